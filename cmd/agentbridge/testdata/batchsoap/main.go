// Command batchsoap is a SOAP 1.1 inventory backend for the batch tests: it answers the demo's
// ReserveItem (urn:acme:inventory) with unlimited stock, de-duplicates reservations by
// customerRef (a repeat gets the first reservation and changes nothing), and counts, per
// customerRef, the calls it received and the reservations it made. It prints
// "listening on http://ADDR" once ready.
//
//	GET /stats            {"calls":N,"effects":N,"refs":N,"duplicateEffects":N,"peakInFlight":N,"inFlight":N}
//	GET /effects?prefix=P {"ref":effects,...} for the refs starting with P
//	GET /calls?prefix=P   {"ref":calls,...} for the refs starting with P: every call counted,
//	                      repeats included
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	reSKU = regexp.MustCompile(`<(?:\w+:)?sku>([^<]*)<`)
	reRef = regexp.MustCompile(`<(?:\w+:)?customerRef>([^<]*)<`)
)

type backend struct {
	delay    time.Duration
	mu       sync.Mutex
	calls    int64
	effects  map[string]int
	refCalls map[string]int
	ids      map[string]string
	n        int
	inFlight atomic.Int64
	peak     atomic.Int64
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	delay := flag.Duration("delay", 0, "how long each call takes")
	flag.Parse()
	b := &backend{delay: *delay, effects: map[string]int{}, refCalls: map[string]int{}, ids: map[string]string{}}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /inventory", b.reserve)
	mux.HandleFunc("GET /stats", b.stats)
	mux.HandleFunc("GET /effects", b.listEffects)
	mux.HandleFunc("GET /calls", b.listCalls)
	fmt.Printf("listening on http://%s\n", lis.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(lis))
}

func (b *backend) reserve(w http.ResponseWriter, r *http.Request) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !strings.Contains(r.Header.Get("SOAPAction"), "ReserveItem") {
		fault(w, "Client", "unknown SOAPAction")
		return
	}
	sku, ref := "", ""
	if m := reSKU.FindSubmatch(body); m != nil {
		sku = string(m[1])
	}
	if m := reRef.FindSubmatch(body); m != nil {
		ref = string(m[1])
	}
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	if sku == "" {
		fault(w, "Client", "ReserveItem: sku is required")
		return
	}
	b.mu.Lock()
	b.calls++
	b.refCalls[ref]++
	id, seen := b.ids[ref]
	if !seen || ref == "" {
		b.n++
		id = fmt.Sprintf("R-%07d", b.n)
		b.ids[ref] = id
		b.effects[ref]++
	}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = fmt.Fprintf(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><inv:ReserveItemResponse xmlns:inv="urn:acme:inventory"><reservationId>%s</reservationId><expiresAt>2026-11-29T12:15:00Z</expiresAt><remaining>999</remaining></inv:ReserveItemResponse></soap:Body></soap:Envelope>`, id)
}

func fault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = fmt.Fprintf(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:%s</faultcode><faultstring>%s</faultstring></soap:Fault></soap:Body></soap:Envelope>`, code, msg)
}

func (b *backend) stats(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	out := map[string]int64{"calls": b.calls, "refs": int64(len(b.effects)), "peakInFlight": b.peak.Load(), "inFlight": b.inFlight.Load()}
	for _, n := range b.effects {
		out["effects"] += int64(n)
		if n > 1 {
			out["duplicateEffects"]++
		}
	}
	b.mu.Unlock()
	_ = json.NewEncoder(w).Encode(out)
}

func (b *backend) listEffects(w http.ResponseWriter, r *http.Request) {
	b.list(w, r, b.effects)
}

func (b *backend) listCalls(w http.ResponseWriter, r *http.Request) {
	b.list(w, r, b.refCalls)
}

func (b *backend) list(w http.ResponseWriter, r *http.Request, counts map[string]int) {
	prefix := r.URL.Query().Get("prefix")
	out := map[string]int{}
	b.mu.Lock()
	for ref, n := range counts {
		if strings.HasPrefix(ref, prefix) {
			out[ref] = n
		}
	}
	b.mu.Unlock()
	_ = json.NewEncoder(w).Encode(out)
}
