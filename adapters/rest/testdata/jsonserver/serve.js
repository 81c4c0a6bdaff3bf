// Starts json-server 0.17.4 through its documented programmatic API (README, "Module") on a
// port the kernel chooses (listen(0)), and prints "listening PORT" once bound, so a test reads
// the address from the peer instead of picking a port and hoping it stays free.
//
// Usage: node serve.js DB.json
//
// json-server validates nothing; the one rule below is added through its documented custom
// middleware hook (README, "Add custom routes" / "Add middlewares"), as json-server
// deployments do: an item must have a non-empty name, else 422 with a JSON error message.
'use strict';
const jsonServer = require('json-server');

const db = process.argv[2];
if (!db) {
  console.error('usage: node serve.js DB.json');
  process.exit(2);
}
const server = jsonServer.create();
const router = jsonServer.router(db);
server.use(jsonServer.defaults({ logger: false, noCors: true }));
server.use(jsonServer.bodyParser);
server.use((req, res, next) => {
  if ((req.method === 'POST' || req.method === 'PUT') && req.path.startsWith('/items')) {
    if (typeof req.body.name !== 'string' || req.body.name === '') {
      res.status(422).jsonp({ error: { message: 'name must be a non-empty string' } });
      return;
    }
  }
  next();
});
server.use(router);
const listener = server.listen(0, '127.0.0.1', () => {
  process.stdout.write('listening ' + listener.address().port + '\n');
});
