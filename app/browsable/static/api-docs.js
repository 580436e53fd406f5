/* Starts Swagger UI (served by Halyard from the flask-swagger-ui package) on this API's OpenAPI description.
 * "Try it out" requests carry the credentials the browsable pages keep in this tab's sessionStorage. */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', function () {
    var root = document.getElementById('swagger-ui');
    window.ui = window.SwaggerUIBundle({
      url: root.dataset.spec,
      domNode: root,
      deepLinking: true,
      validatorUrl: null,
      tryItOutEnabled: false,
      requestInterceptor: function (req) {
        var auth = null;
        try { auth = sessionStorage.getItem('halyard.auth'); } catch (e) { /* none */ }
        if (auth && !req.headers.Authorization && new URL(req.url, location.href).origin === location.origin) {
          req.headers.Authorization = auth;
        }
        return req;
      }
    });
  });
})();
