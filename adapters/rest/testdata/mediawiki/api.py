#!/usr/bin/env python3
"""A small wiki answering a subset of the MediaWiki Action API (api.php) as MediaWiki documents
it, for testing agentbridge's rest kind against a legacy-style REST API it was not written for.

Followed from https://www.mediawiki.org/wiki/API:Main_page and its subpages:
  - API:Data formats     format=xml replies: <?xml version="1.0"?><api ...>...</api>, text/xml
  - API:Errors and warnings  errors as <error code="..." info="..." docref="..."/> in an HTTP 200
                         reply, with the MediaWiki-API-Error header; unknown values of an enum
                         parameter are "badvalue"
  - API:Tokens           action=query&meta=tokens&type=login gives a login token bound to the
                         session cookie; tokens end in "+\\"
  - API:Login            action=login with lgname, lgpassword, lgtoken, POST only
                         ("mustpostparams" otherwise); <login result="Success" lguserid lgusername/>
                         or result="Failed" with a reason; the session id changes on login
  - API:Assert           assert=user fails with "assertuserfailed" when not logged in
  - Manual:$wgGroupPermissions  a private wiki ('*' may not read): "readapidenied"
  - API:Allpages         list=allpages with aplimit, apcontinue, apnamespace; continuation as
                         <continue apcontinue="..." continue="-||"/>
  - API:Info             prop=info&titles=...: <pages><page pageid ns title ... length/>, a missing
                         page as <page _idx="-1" ns="0" title="..." missing=""/>, title
                         normalization reported as <normalized><n from to/></normalized>
Parameters are read from the query string and from form bodies (urlencoded or multipart), as
MediaWiki reads them.

Not MediaWiki: POST /_test/expire ends every session (as a session store's expiry would), and
GET /_test/stats answers {"logins": N}; both are for tests only.

Usage: WIKI_BOT_PASSWORD=... api.py   (user "Bridgebot@agentbridge"); prints "listening PORT".
"""
import email.parser
import email.policy
import json
import os
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import quoteattr

COOKIE = "agentwiki_session"
USER = "Bridgebot@agentbridge"
PASSWORD = os.environ.get("WIKI_BOT_PASSWORD", "")
DOCREF = "See http://127.0.0.1/w/api.php for API usage."

PAGES = {
    "Main Page": (1, 1520, 104),
    "Cordless drill": (2, 830, 99),
    "Claw hammer": (3, 412, 87),
    "Circular saw": (4, 1203, 120),
    "Garden hose": (5, 305, 61),
}

lock = threading.Lock()
sessions = {}  # session id -> {"user": name or None, "logintoken": token}
stats = {"logins": 0}


def normalize(title):
    t = title.replace("_", " ").strip()
    return t[:1].upper() + t[1:]


class Handler(BaseHTTPRequestHandler):
    server_version = "MediaWiki-like/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.handle_api({})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        ctype = self.headers.get("Content-Type", "")
        post = {}
        if ctype.startswith("application/x-www-form-urlencoded"):
            post = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        elif ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                post[name] = part.get_content() if part.get_content_maintype() == "text" else part.get_payload(decode=True).decode()
        self.handle_api(post, posted=True)

    # --- plumbing

    def session(self):
        jar = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                jar[k] = v
        sid = jar.get(COOKIE)
        with lock:
            if sid in sessions:
                return sid, sessions[sid], False
            sid = secrets.token_hex(16)
            sessions[sid] = {"user": None, "logintoken": None}
            return sid, sessions[sid], True

    def reply(self, xml, sid=None, error=None, status=200, ctype="text/xml; charset=utf-8"):
        data = xml.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if sid:
            self.send_header("Set-Cookie", f"{COOKIE}={sid}; path=/; HttpOnly")
        if error:
            self.send_header("MediaWiki-API-Error", error)
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, info, sid=None):
        self.reply('<?xml version="1.0"?><api servedby="mw-test"><error code=%s info=%s docref=%s /></api>'
                   % (quoteattr(code), quoteattr(info), quoteattr(DOCREF)), sid=sid, error=code)

    # --- the API

    def handle_api(self, post, posted=False):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/_test/expire" and posted:
            with lock:
                sessions.clear()
            return self.reply("{}", ctype="application/json")
        if url.path == "/_test/stats":
            with lock:
                return self.reply(json.dumps(stats), ctype="application/json")
        if url.path != "/w/api.php":
            return self.reply("<html><body><h1>Not Found</h1></body></html>", status=404, ctype="text/html; charset=utf-8")
        params = dict(query)
        params.update(post)
        sid, ses, new = self.session()
        set_sid = sid if new else None
        action = params.get("action", "help")

        if params.get("assert") == "user" and ses["user"] is None:
            return self.error("assertuserfailed", "You are no longer logged in, so the action could not be completed.", set_sid)

        if action == "login":
            in_query = [p for p in ("lgpassword", "lgtoken") if p in query]
            if in_query or not posted:
                return self.error("mustpostparams", "The following parameters were found in the query string, but must be in the POST body: %s." % ", ".join(in_query or ["lgpassword", "lgtoken"]), set_sid)
            if not ses["logintoken"] or params.get("lgtoken") != ses["logintoken"]:
                return self.reply('<?xml version="1.0"?><api><login result="Failed" reason="Unable to continue login. Your session most likely timed out." /></api>', sid=set_sid)
            if params.get("lgname") != USER or not PASSWORD or params.get("lgpassword") != PASSWORD:
                return self.reply('<?xml version="1.0"?><api><login result="Failed" reason="Incorrect username or password entered. Please try again." /></api>', sid=set_sid)
            with lock:
                del sessions[sid]
                sid = secrets.token_hex(16)  # a new session id on login
                sessions[sid] = {"user": USER, "logintoken": None}
                stats["logins"] += 1
            return self.reply('<?xml version="1.0"?><api><login result="Success" lguserid="7" lgusername="Bridgebot" /></api>', sid=sid)

        if action != "query":
            return self.error("badvalue", 'Unrecognized value for parameter "action": %s.' % action, set_sid)

        if params.get("meta") == "tokens":
            if params.get("type") == "login":
                ses["logintoken"] = secrets.token_hex(20) + "+\\"
                return self.reply('<?xml version="1.0"?><api batchcomplete=""><query><tokens logintoken=%s /></query></api>' % quoteattr(ses["logintoken"]), sid=set_sid)
            return self.error("badvalue", 'Unrecognized value for parameter "type": %s.' % params.get("type"), set_sid)

        if ses["user"] is None:  # a private wiki: '*' may not read
            return self.error("readapidenied", "You need read permission to use this module.", set_sid)

        if params.get("list") == "allpages":
            ns = params.get("apnamespace", "0")
            if ns not in ("0", "1", "2", "4", "6", "10", "14"):
                return self.error("badvalue", 'Unrecognized value for parameter "apnamespace": %s.' % ns, set_sid)
            try:
                limit = int(params.get("aplimit", "10"))
            except ValueError:
                return self.error("badinteger", 'Invalid value "%s" for integer parameter "aplimit".' % params.get("aplimit"), set_sid)
            limit = max(1, min(limit, 500))
            titles = sorted(PAGES) if ns == "0" else []
            start = params.get("apcontinue") or params.get("apfrom")
            if start:
                start = normalize(start)
                titles = [t for t in titles if t >= start]
            page, rest = titles[:limit], titles[limit:]
            cont = '<continue apcontinue=%s continue="-||" />' % quoteattr(rest[0].replace(" ", "_")) if rest else ""
            items = "".join('<p pageid="%d" ns="0" title=%s />' % (PAGES[t][0], quoteattr(t)) for t in page)
            return self.reply('<?xml version="1.0"?><api%s>%s<query><allpages>%s</allpages></query></api>'
                              % ("" if rest else ' batchcomplete=""', cont, items), sid=set_sid)

        if params.get("prop") == "info":
            normalized, pages = [], []
            for i, raw in enumerate(params.get("titles", "").split("|")):
                t = normalize(raw)
                if t != raw:
                    normalized.append('<n from=%s to=%s />' % (quoteattr(raw), quoteattr(t)))
                if t in PAGES:
                    pid, length, rev = PAGES[t]
                    pages.append('<page _idx="%d" pageid="%d" ns="0" title=%s contentmodel="wikitext" pagelanguage="en" pagelanguagehtmlcode="en" pagelanguagedir="ltr" touched="2026-10-01T12:00:00Z" lastrevid="%d" length="%d" />' % (pid, pid, quoteattr(t), rev, length))
                else:
                    pages.append('<page _idx="%d" ns="0" title=%s missing="" />' % (-1 - i, quoteattr(t)))
            norm = "<normalized>%s</normalized>" % "".join(normalized) if normalized else ""
            return self.reply('<?xml version="1.0"?><api batchcomplete=""><query>%s<pages>%s</pages></query></api>' % (norm, "".join(pages)), sid=set_sid)

        return self.error("badvalue", "Unrecognized query.", set_sid)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
