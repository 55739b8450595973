/**
 * Auth0 post-login Action: put the user's RBAC roles in the portal's namespaced claim.
 *
 * Deploy it in Actions > Library > Build Custom (trigger "Login / Post Login"), add it to the
 * Login flow, and set the Action secret ROLES_CLAIM to the portal's PORTAL_ROLES_CLAIM
 * (default "https://portal/roles"). The portal reads the claim from the ID token at sign-in and
 * from access tokens sent as bearer tokens; roles named admin, devel and ea are tiers, any other
 * role is kept but opens nothing.
 */
exports.onExecutePostLogin = async (event, api) => {
  const claim = event.secrets.ROLES_CLAIM || "https://portal/roles";
  const roles = (event.authorization && event.authorization.roles) || [];
  api.idToken.setCustomClaim(claim, roles);
  api.accessToken.setCustomClaim(claim, roles);
};
