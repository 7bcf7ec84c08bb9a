// Starts Swagger UI on /docs from the engine's own copy (no inline script: the page's
// Content-Security-Policy allows scripts from this origin only).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
