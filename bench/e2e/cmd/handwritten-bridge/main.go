// Command handwritten-bridge serves the end-to-end benchmark's hand-written bridge (package
// e2e) on its own, for the RSS comparison of TestE2ERSS:
//
//	handwritten-bridge -backend http://127.0.0.1:PORT/orders [-http-addr 127.0.0.1:0]
//
// It prints "http=<addr>" on stdout once it listens, and serves until stdin closes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/agentbridge/agentbridge/bench/e2e"
)

func main() {
	backend := flag.String("backend", "", "the SOAP backend's endpoint")
	addr := flag.String("http-addr", "127.0.0.1:0", "the address to listen on")
	flag.Parse()
	if *backend == "" {
		fmt.Fprintln(os.Stderr, "handwritten-bridge: give -backend URL")
		os.Exit(2)
	}
	lis, err := new(net.ListenConfig).Listen(context.Background(), "tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hs := &http.Server{Handler: e2e.NewHandwritten(*backend).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	fmt.Printf("http=%s\n", lis.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	_ = hs.Close()
}
