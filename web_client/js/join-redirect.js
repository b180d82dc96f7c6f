// join.html, kept for links made before the log-in page returned to recruit/… pages itself:
// "join.html#<token>" opens the team invitation, "join.html?next=recruit/<page>" that page.
const next = new URLSearchParams(location.search).get('next') || '';
const to = /^recruit\/[\w-]+\.html([?#].*)?$/.test(next) ? next
  : location.hash.length > 1 ? `recruit/join.html${location.hash}` : 'recruit/index.html';
location.replace(to);
