// Which screen is showing, and the state the screens share. Screens register themselves;
// nothing imports a screen directly, so there are no import cycles.
const screens = {};

export const state = {
  device: null, village: null, search: '', visit: null, syncing: false, notice: null,
  revoked: false, progress: null, screen: null,
  // What the screens ask the app to do: {enroll, sync, backup, restore}, set by app.js.
  actions: {},
};

export function register(name, show) { screens[name] = show; }

/** Show a screen: 'enroll', 'home' or 'visit' (with the record id). */
export async function go(name, ...args) {
  // Set at once, before any await: a sync finishing meanwhile must not redraw the home
  // screen over a visit that is just opening.
  state.screen = name;
  if (name !== 'visit') state.visit = null;
  const shown = await screens[name](...args);
  // The app applies a waiting update only when no form is open.
  if (name === 'home') document.dispatchEvent(new Event('gocua:home'));
  return shown;
}

export const main = () => document.getElementById('main');
