package adapters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// This file probes a backend for readiness: on a schedule, a GET that any answer below HTTP 500
// passes (a SOAP endpoint answers a GET with its WSDL, 405 or 404: it is up). The breaker judges
// a backend by real calls; a probe also knows when there are none, and before the first.

// ProbePolicy configures a backend's readiness probe (backend config probe:). Without an
// interval there is no probe, and readiness follows the breaker alone.
type ProbePolicy struct {
	// URL is what is requested. Default: the backend's endpoint.
	URL string `yaml:"url"`
	// Interval is the time between probes. Default 0: no probe.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one probe. Default 2s, and at most the interval.
	Timeout time.Duration `yaml:"timeout"`
	// Failures is how many failed probes in a row mark the backend down; one success marks it
	// up. Default 2.
	Failures int `yaml:"failures"`
}

// Defaults of ProbePolicy.
const (
	DefaultProbeTimeout  = 2 * time.Second
	DefaultProbeFailures = 2
)

func (p ProbePolicy) withDefaults() ProbePolicy {
	if p.Timeout <= 0 {
		p.Timeout = DefaultProbeTimeout
	}
	if p.Interval > 0 && p.Timeout > p.Interval {
		p.Timeout = p.Interval
	}
	if p.Failures <= 0 {
		p.Failures = DefaultProbeFailures
	}
	return p
}

// Check reports a policy that cannot be used.
func (p ProbePolicy) Check() error {
	var errs []error
	if p.Interval < 0 || p.Timeout < 0 || p.Failures < 0 {
		errs = append(errs, errors.New("probe: interval, timeout and failures must not be negative"))
	}
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("probe.url %q: use an http(s) URL", p.URL))
		}
	}
	if p.Interval == 0 && (p.URL != "" || p.Timeout != 0 || p.Failures != 0) {
		errs = append(errs, errors.New("probe: set interval to probe; without it the other probe settings do nothing"))
	}
	return errors.Join(errs...)
}

// ProbeState is what the probe last found.
type ProbeState struct {
	// Down is set after Failures failed probes in a row, until one passes.
	Down bool
	// Since is when Down last changed; zero before it ever did.
	Since time.Time
	// Err says why the last probe failed; "" when it passed.
	Err string
}

// Probes reports whether the backend has a probe configured.
func (g *Guard) Probes() bool { return g.backend.Probe.Interval > 0 }

// ProbeState returns what the probe last found.
func (g *Guard) ProbeState() ProbeState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.probe
}

// Ready reports whether the backend takes calls: its breaker is not open and its probe, when
// there is one, does not find it down.
func (g *Guard) Ready() bool {
	return g.Breaker().State != "open" && !g.ProbeState().Down
}

// Probe probes the backend once and records the result; watchers hear when it goes down or up.
func (g *Guard) Probe(ctx context.Context) error {
	p := g.backend.Probe
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	err := g.probeOnce(ctx)
	g.mu.Lock()
	changed := false
	if err == nil {
		g.probeFails = 0
		g.probe.Err = ""
		if g.probe.Down {
			g.probe.Down, g.probe.Since, changed = false, g.now(), true
		}
	} else {
		g.probeFails++
		g.probe.Err = err.Error()
		if !g.probe.Down && g.probeFails >= p.Failures {
			g.probe.Down, g.probe.Since, changed = true, g.now(), true
		}
	}
	watchers := append([]func(){}, g.watchers...)
	down := g.probe.Down
	g.mu.Unlock()
	if changed {
		if down {
			g.logger().Warn("backend probe failed; the backend is marked down", "backend", g.backend.Name, "failures", p.Failures, "err", err)
		} else {
			g.logger().Info("backend probe passed; the backend is marked up", "backend", g.backend.Name)
		}
		for _, f := range watchers {
			go f()
		}
	}
	return err
}

func (g *Guard) probeOnce(ctx context.Context) error {
	target := g.backend.Probe.URL
	if target == "" {
		target = g.backend.Endpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return errors.New("the probe URL is not usable")
	}
	resp, err := g.probeClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no answer within %s", g.backend.Probe.Timeout)
		}
		return errors.New("could not be reached") // Go's text may hold the URL, with credentials
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// RunProbes probes the backend now and then every interval, until ctx is done. It returns at
// once when the backend has no probe.
func (g *Guard) RunProbes(ctx context.Context) {
	if !g.Probes() {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = g.Probe(ctx)
		t.Reset(g.backend.Probe.Interval)
	}
}

// newProbeClient is the probe's HTTP client: the backend's TLS settings, one connection, no
// redirects followed.
func newProbeClient(b Backend) *http.Client {
	creds, _ := b.Credentials() // a credential problem shows on calls; the probe needs only TLS
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     creds.TLSConfig(),
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
