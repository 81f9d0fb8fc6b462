"use strict";
document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = document.getElementById("token").value.trim();
  const err = document.getElementById("login-error");
  err.textContent = "";
  const r = await fetch("/api/v1/users/me", { headers: { Authorization: "Bearer " + token } });
  if (!r.ok) { err.textContent = r.status === 401 ? "This token is not valid (or was revoked)." : "Sign-in failed: HTTP " + r.status; return; }
  const me = await r.json();
  GI.remember(token);
  const home = { installer: "/installer", engineer: "/engineer", operator: "/operator", admin: "/engineer" }[me.role] || "/";
  const next = new URLSearchParams(location.search).get("next");
  location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : home;
});
