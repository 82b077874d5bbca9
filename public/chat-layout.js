// The chat page's narrow layout (under 700 px, see chat.css): the room list is
// a drawer behind the Rooms button, closed again by picking or joining a room,
// by Escape, or by a tap on the conversation beside it. This script knows
// nothing of the chat: it reads the room list chat.js renders, to title the
// bar with the room on show and to mark the button while another room has
// unread lines (hidden in the closed drawer, the badges would go unseen).
const $ = (id) => document.getElementById(id);
const main = $('chat');
const toggle = $('rooms-toggle');
const rooms = $('rooms');

const isOpen = () => main.classList.contains('drawer-open');

function setOpen(open) {
  main.classList.toggle('drawer-open', open);
  toggle.setAttribute('aria-expanded', String(open));
}

toggle.addEventListener('click', () => setOpen(!isOpen()));
rooms.addEventListener('click', (e) => {
  if (e.target instanceof Element && e.target.closest('li') !== null) setOpen(false);
});
$('join-form').addEventListener('submit', () => setOpen(false));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && isOpen()) {
    setOpen(false);
    toggle.focus();
  }
});
// Capture phase: the tap still does what it was for (say, Send) and closes the drawer too.
main.querySelector('section').addEventListener('click', () => setOpen(false), true);

function mirrorRooms() {
  // A room's entry starts with its label; an unread badge may follow it.
  const active = rooms.querySelector('li.active');
  $('room-title').textContent = active?.firstChild?.textContent ?? '';
  toggle.classList.toggle('unread', rooms.querySelector('.unread') !== null);
}
new MutationObserver(mirrorRooms).observe(rooms, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['class'] });
mirrorRooms();
