#!/usr/bin/env python3
"""A plain XML-over-HTTP server for the xmlhttp kind's tests, written with nothing but the
Python standard library (http.server, xml.etree), as many in-house XML services are.

Usage: peer.py DOCS_DIR CORPUS_DIR

It binds 127.0.0.1 on a free port, prints the port on one line of stdout, and serves until its
stdin is closed (or it is killed).

  GET  /items/SKU          the item as <item sku="..."> (404 with an XML error body if unknown)
  GET  /items?category=C&maxResults=N
                           <items total="N"> of <item> (400 for an unknown query parameter)
  POST /orders             <order><sku/><quantity/><customer/></order>, parsed with xml.etree:
                           <orderResult> with an order id and the stock left, or a 200 error
                           document <error><code>OUT_OF_STOCK</code>... when the stock is short
  PUT  /items/SKU/stock    <stock><sku/><quantity/></stock>: sets the stock, answers the item
  GET  /feeds/NAME         a static document from DOCS_DIR
  GET  /wsdl/NAME          a WSDL from the corpus (CORPUS_DIR/wsdl/NAME.wsdl), as
                           application/wsdl+xml
  GET  /docs/CASE          bad and odd replies (see CASES below)
  GET  /_stats             JSON counts of the calls that changed state
"""

import http.server
import json
import os
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET

DOCS, CORPUS = sys.argv[1], sys.argv[2]

LOCK = threading.Lock()
ITEMS = {
    "A-100": {"name": "Cordless drill", "category": "tools", "unitPrice": "89.90", "quantity": 42,
              "status": "IN_STOCK", "tags": ["power", "cordless"]},
    "A-200": {"name": "Claw hammer", "category": "tools", "unitPrice": "14.50", "quantity": 120,
              "status": "IN_STOCK", "tags": ["hand"]},
    "G-100": {"name": "Garden hose 25 m", "category": "garden", "unitPrice": "24.95", "quantity": 65,
              "status": "IN_STOCK", "tags": []},
}
STATS = {"orders": 0, "stock_updates": 0, "refused_orders": 0}
NEXT_ORDER = [1000]


def item_element(sku, it):
    e = ET.Element("item", {"sku": sku})
    for k in ("name", "category", "unitPrice"):
        ET.SubElement(e, k).text = it[k]
    ET.SubElement(e, "quantity").text = str(it["quantity"])
    ET.SubElement(e, "status").text = it["status"] if it["quantity"] > 0 else "BACKORDERED"
    tags = ET.SubElement(e, "tags")
    for t in it["tags"]:
        ET.SubElement(tags, "tag").text = t
    return e


def xml_bytes(e, encoding="utf-8"):
    return ET.tostring(e, encoding=encoding, xml_declaration=True)


def error_doc(code, message):
    e = ET.Element("error")
    ET.SubElement(e, "code").text = code
    ET.SubElement(e, "message").text = message
    return xml_bytes(e)


LATIN1 = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
          '<item sku="S-1"><name>Säge für Holz</name><category>tools</category>'
          '<unitPrice>19.00</unitPrice><quantity>3</quantity><status>IN_STOCK</status>'
          '<tags><tag>größe M</tag></tags></item>').encode("iso-8859-1")
CP1252_NODECL = ('<item sku="S-2"><name>Drill – 18 V “Pro”</name><category>tools</category>'
                 '<unitPrice>99.00</unitPrice><quantity>1</quantity><status>IN_STOCK</status>'
                 '<tags/></item>').encode("windows-1252")
UTF16 = ('<?xml version="1.0" encoding="UTF-16"?>\n'
         '<item sku="S-3"><name>Zange № 5 – 日本製</name><category>tools</category>'
         '<unitPrice>7.50</unitPrice><quantity>9</quantity><status>IN_STOCK</status>'
         '<tags><tag>✓</tag></tags></item>').encode("utf-16")  # with a byte order mark
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
             b"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response."
             b"</p><hr><address>Apache/2.4.41 (Ubuntu) Server at 10.0.0.7 Port 80</address>"
             b"</body></html>\n")
GOOD = b'<?xml version="1.0"?><item sku="A-100"><name>Cordless drill</name><quantity>1</quantity></item>'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LegacyXML/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, code, body, ctype="application/xml; charset=utf-8", headers=None):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_xml(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/xml"):
            raise ValueError("Content-Type %r is not application/xml" % ctype)
        return ET.fromstring(data)

    # ---- GET ----
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in u.path.split("/") if p]
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if parts == ["_stats"]:
            with LOCK:
                return self.send(200, json.dumps(STATS).encode(), "application/json")
        if parts == ["items"]:
            unknown = set(query) - {"category", "maxResults"}
            if unknown:
                return self.send(400, error_doc("BAD_QUERY", "unknown parameter " + ",".join(sorted(unknown))))
            cat = query.get("category", [None])[0]
            limit = int(query.get("maxResults", ["100"])[0])
            root = ET.Element("items")
            with LOCK:
                chosen = [(s, it) for s, it in sorted(ITEMS.items()) if cat is None or it["category"] == cat][:limit]
                for s, it in chosen:
                    root.append(item_element(s, it))
            root.set("total", str(len(chosen)))
            return self.send(200, xml_bytes(root))
        if len(parts) == 2 and parts[0] == "items":
            with LOCK:
                it = ITEMS.get(parts[1])
                if it is None:
                    return self.send(404, error_doc("NO_SUCH_ITEM", "no item with SKU " + parts[1]))
                return self.send(200, xml_bytes(item_element(parts[1], it)))
        if len(parts) == 2 and parts[0] == "feeds":
            path = os.path.join(DOCS, os.path.basename(parts[1]))
            if not os.path.isfile(path):
                return self.send(404, error_doc("NO_SUCH_FEED", "no feed " + parts[1]))
            with open(path, "rb") as f:
                return self.send(200, f.read(), "application/rss+xml; charset=utf-8")
        if len(parts) == 2 and parts[0] == "wsdl":
            path = os.path.join(CORPUS, "wsdl", os.path.basename(parts[1]) + ".wsdl")
            if not os.path.isfile(path):
                return self.send(404, error_doc("NO_SUCH_WSDL", "no WSDL " + parts[1]))
            with open(path, "rb") as f:
                return self.send(200, f.read(), "application/wsdl+xml")
        if len(parts) == 2 and parts[0] == "docs":
            case = CASES.get(parts[1])
            if case is None:
                return self.send(404, error_doc("NO_SUCH_CASE", "no case " + parts[1]))
            return case(self)
        return self.send(404, error_doc("NOT_FOUND", "nothing at " + u.path))

    # ---- POST, PUT ----
    def do_POST(self):
        if self.path != "/orders":
            return self.send(404, error_doc("NOT_FOUND", "nothing to post at " + self.path))
        try:
            order = self.read_xml()
            if order.tag != "order":
                raise ValueError("root element %s, expected order" % order.tag)
            known = {"sku", "quantity", "customer", "note"}
            extra = [c.tag for c in order if c.tag not in known]
            if extra:
                raise ValueError("unknown elements " + ",".join(extra))
            sku = order.findtext("sku")
            qty = int(order.findtext("quantity"))
            customer = order.findtext("customer") or ""
        except (ValueError, TypeError, ET.ParseError) as e:
            return self.send(400, error_doc("BAD_ORDER", str(e)))
        with LOCK:
            it = ITEMS.get(sku)
            if it is None:
                STATS["refused_orders"] += 1
                return self.send(200, error_doc("NO_SUCH_ITEM", "no item with SKU %s" % sku))
            if it["quantity"] < qty:
                STATS["refused_orders"] += 1
                return self.send(200, error_doc("OUT_OF_STOCK", "only %d of %s left" % (it["quantity"], sku)))
            it["quantity"] -= qty
            STATS["orders"] += 1
            NEXT_ORDER[0] += 1
            r = ET.Element("orderResult")
            ET.SubElement(r, "orderId").text = "ORD-%d" % NEXT_ORDER[0]
            ET.SubElement(r, "sku").text = sku
            ET.SubElement(r, "quantity").text = str(qty)
            ET.SubElement(r, "remaining").text = str(it["quantity"])
            ET.SubElement(r, "customer").text = customer
            return self.send(200, xml_bytes(r))

    def do_PUT(self):
        parts = [urllib.parse.unquote(p) for p in self.path.split("/") if p]
        if len(parts) != 3 or parts[0] != "items" or parts[2] != "stock":
            return self.send(404, error_doc("NOT_FOUND", "nothing to put at " + self.path))
        try:
            stock = self.read_xml()
            if stock.tag != "stock" or stock.findtext("sku") != parts[1]:
                raise ValueError("expected <stock> with the <sku> of the URL")
            qty = int(stock.findtext("quantity"))
        except (ValueError, TypeError, ET.ParseError) as e:
            return self.send(400, error_doc("BAD_STOCK", str(e)))
        with LOCK:
            it = ITEMS.get(parts[1])
            if it is None:
                return self.send(404, error_doc("NO_SUCH_ITEM", "no item with SKU " + parts[1]))
            it["quantity"] = qty
            STATS["stock_updates"] += 1
            return self.send(200, xml_bytes(item_element(parts[1], it)))


def huge(h):
    # Over any bound the tests set, sent without a Content-Length (the body ends when the
    # connection closes), so the bridge finds out while reading.
    h.send_response(200)
    h.send_header("Content-Type", "application/xml")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(b'<?xml version="1.0"?><item sku="H-1"><name>')
    chunk = b"x" * 65536
    try:
        for _ in range(64):  # 4 MiB
            h.wfile.write(chunk)
        h.wfile.write(b"</name></item>")
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


def cut(h):
    # A Content-Length the body never reaches: the connection closes mid-document.
    h.send_response(200)
    h.send_header("Content-Type", "application/xml")
    h.send_header("Content-Length", "4096")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(GOOD[:40])
    h.wfile.flush()
    h.close_connection = True


CASES = {
    "good": lambda h: h.send(200, GOOD),
    "latin1": lambda h: h.send(200, LATIN1, "text/xml"),
    "cp1252-header": lambda h: h.send(200, CP1252_NODECL, "application/xml; charset=windows-1252"),
    "utf16": lambda h: h.send(200, UTF16, "application/xml"),
    "no-content-type": lambda h: h.send(200, GOOD, None),
    "json": lambda h: h.send(200, b'{"sku": "A-100", "name": "Cordless drill"}', "application/json"),
    "html-200": lambda h: h.send(200, HTML_PAGE, "text/html; charset=utf-8"),
    "html-error": lambda h: h.send(502, HTML_PAGE, "text/html; charset=utf-8"),
    "xml-error": lambda h: h.send(500, error_doc("DB_DOWN", "the stock database is down")),
    "ratelimited": lambda h: h.send(429, b"slow down", "text/plain", {"Retry-After": "7"}),
    "loop": lambda h: h.send(302, b"", "text/plain", {"Location": "/docs/loop"}),
    "partial": lambda h: h.send(200, GOOD[:-20]),
    "cut": cut,
    "huge": huge,
    "doctype": lambda h: h.send(200, b'<?xml version="1.0"?><!DOCTYPE item [<!ENTITY x "boom">]><item sku="D"><name>&x;</name></item>'),
    "wrong-root": lambda h: h.send(200, b'<product sku="A-100"><name>Cordless drill</name></product>'),
    "wrong-ns": lambda h: h.send(200, b'<item xmlns="urn:other" sku="A-100"><name>Cordless drill</name></item>'),
    "unknown-element": lambda h: h.send(200, b'<item sku="A-100"><name>Cordless drill</name><color>red</color></item>'),
    "bad-number": lambda h: h.send(200, b'<item sku="A-100"><name>Cordless drill</name><quantity>many</quantity></item>'),
    "empty": lambda h: h.send(200, b""),
}


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(srv.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes stdin
    srv.shutdown()


if __name__ == "__main__":
    main()
