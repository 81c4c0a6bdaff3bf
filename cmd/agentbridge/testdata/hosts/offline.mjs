// offline.mjs keeps a hosts.mjs run offline: imported before any library, it wraps the global
// fetch, which every library here sends HTTP with, so that a request to anything but loopback is
// refused and reported instead of sent. hosts.mjs prints what was refused as failures.
export const refused = [];

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    refused.push(url.origin);
    throw new Error(`hosts.mjs: refused a request to ${url.origin}: the run is offline`);
  }
  return realFetch(input, init);
};
