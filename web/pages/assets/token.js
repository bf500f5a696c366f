// token.js: the one-time token of an invitation or password-reset link. It
// travels in the URL's fragment (#…), which browsers never send to a server
// or put in a Referer; the page reads it once and takes it out of the
// address bar and the history entry.

export function takeToken() {
  const token = decodeURIComponent(window.location.hash.replace(/^#/, '')).trim();
  if (token) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return token;
}

export const minPassword = 12;
export const maxPassword = 256;

// passwordProblem is what is wrong with a new password, or ''.
export function passwordProblem(password) {
  if (password.length < minPassword) return `Use at least ${minPassword} characters.`;
  if (password.length > maxPassword) return `Use at most ${maxPassword} characters.`;
  return '';
}
