"use strict";
const log = document.getElementById("log");
const input = document.getElementById("question");
const errorBox = document.getElementById("error");
const modelLine = document.getElementById("model");
let session = Math.random().toString(36).slice(2);
let context = [];
// With an API key set on the server, the page asks for it once and keeps it for this tab.
let apiKey = sessionStorage.getItem("deepqa-api-key") || "";

function addTurn(who, text, exchangeId) {
  const row = document.createElement("div");
  row.className = "turn " + who;
  const bubble = document.createElement("span");
  bubble.textContent = text;
  row.appendChild(bubble);
  if (exchangeId) {
    for (const [label, rating] of [["\u25B2", 1], ["\u25BC", -1]]) {
      const button = document.createElement("button");
      button.className = "rate";
      button.type = "button";
      button.textContent = label;
      button.dataset.rating = rating;
      button.title = rating > 0 ? "good answer" : "bad answer";
      button.addEventListener("click", () => rate(exchangeId, rating, row));
      row.appendChild(button);
    }
  }
  log.appendChild(row);
  row.scrollIntoView({block: "end"});
  log.scrollTop = log.scrollHeight;
}

async function post(path, body, retried) {
  const headers = {"Content-Type": "application/json"};
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  const response = await fetch(path, {method: "POST", headers: headers, body: JSON.stringify(body)});
  const data = await response.json();
  if (response.status === 401 && !retried) {
    apiKey = window.prompt("This server needs an API key:") || "";
    sessionStorage.setItem("deepqa-api-key", apiKey);
    if (apiKey) return post(path, body, true);
  }
  if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
  return data;
}

async function rate(exchangeId, rating, row) {
  try {
    await post("/api/v1/feedback", {exchange_id: exchangeId, rating: rating});
    row.querySelectorAll(".rate").forEach(b => {
      b.disabled = true;
      b.classList.toggle("chosen", Number(b.dataset.rating) === rating);
    });
    row.dataset.rated = String(rating);
  } catch (error) { errorBox.textContent = error.message; }
}

document.getElementById("ask").addEventListener("submit", async event => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question) return;
  errorBox.textContent = "";
  addTurn("you", question);
  input.value = "";
  try {
    const data = await post("/api/v1/question", {question: question, context: context.slice(-6), session_id: session});
    addTurn("bot", data.answer, data.exchange_id);
    modelLine.textContent = "Answered by model " + data.model;
    context.push(question, data.answer);
  } catch (error) { errorBox.textContent = error.message; }
});

document.getElementById("reset").addEventListener("click", () => {
  context = [];
  session = Math.random().toString(36).slice(2);
  log.textContent = "";
});
