/** Bearer tokens for `tasques token new` and `tasques token hash` (docs/auth.md). */
export { bearerTokenSha256, newBearerToken } from '../domain/access.js';
