// The API reference at /docs: Swagger UI (from the pinned swagger-ui-dist package) rendering
// the gateway's own /openapi.json, with "Authorize" for a bearer key or operator token and
// "Try it out" against this gateway.
import 'swagger-ui-dist/swagger-ui.css';
import './docs.css';
// swagger-ui-dist ships the bundle as a UMD script without types.
// @ts-expect-error no declaration file
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';

interface SwaggerUi {
  preauthorizeApiKey(scheme: string, value: string): void;
}

const ui: SwaggerUi = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger',
  deepLinking: true,
  displayRequestDuration: true,
  filter: true,
  onComplete: () => {
    // Whoever signed in to the console in this tab is signed in here too.
    const credential = sessionStorage.getItem('tollgate.credential');
    if (credential) {
      ui.preauthorizeApiKey('tenant_key', credential);
      ui.preauthorizeApiKey('admin_token', credential);
    }
  },
});
