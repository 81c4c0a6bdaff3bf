package server

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/agentbridge/agentbridge/adapters"
)

// This file limits the rate of inbound calls, per principal and per method, as an interceptor:
// written once, it holds on gRPC, Connect, gRPC-Web, REST and MCP. A call over a budget fails
// with ResourceExhausted and a google.rpc.RetryInfo saying when to call again; REST turns that
// into a Retry-After header and MCP into the text of its error result.

// RateRule is one inbound budget (config limits.rate:). Every rule that matches a call must
// have a token for it.
type RateRule struct {
	// Methods is a glob over full method names (package.Service.Method) the rule covers.
	// Default "*": every method.
	Methods string `yaml:"methods"`
	// Principals lists the principal IDs the rule covers. Default: every caller (without auth,
	// every caller is "anonymous").
	Principals []string `yaml:"principals"`
	// Per says what has a budget of its own: principal_method (default: each caller on each
	// method), principal (each caller, across the methods matched), method (each method, across
	// callers) or all (one budget for everything matched).
	Per           string `yaml:"per"`
	adapters.Rate `yaml:",inline"`
}

// The values of RateRule.Per.
const (
	PerPrincipalMethod = "principal_method"
	PerPrincipal       = "principal"
	PerMethod          = "method"
	PerAll             = "all"
)

// anonymous names the caller in rate keys when the server runs without authentication.
const anonymous = "anonymous"

func (r RateRule) check(i int) error {
	var errs []error
	where := fmt.Sprintf("limits.rate[%d]", i)
	if r.Methods != "" {
		if err := checkGlob(r.Methods); err != nil {
			errs = append(errs, fmt.Errorf("%s: methods: %w", where, err))
		}
	}
	switch r.Per {
	case "", PerPrincipalMethod, PerPrincipal, PerMethod, PerAll:
	default:
		errs = append(errs, fmt.Errorf("%s: per %q: use principal_method, principal, method or all", where, r.Per))
	}
	if err := r.Check(); err != nil { // the embedded Rate's
		errs = append(errs, fmt.Errorf("%s: %w", where, err))
	}
	if !r.Limited() {
		errs = append(errs, fmt.Errorf("%s: per_second is missing; a rule without a rate limits nothing", where))
	}
	return errors.Join(errs...)
}

func (r RateRule) matches(method, principal string) bool {
	if r.Methods != "" && r.Methods != "*" {
		if ok, _ := path.Match(r.Methods, method); !ok {
			return false
		}
	}
	if len(r.Principals) == 0 {
		return true
	}
	for _, p := range r.Principals {
		if p == principal {
			return true
		}
	}
	return false
}

// key names the budget a call takes from; prefix is the rule's (see ratePrefixes).
func (r RateRule) key(prefix, method, principal string) string {
	switch r.Per {
	case PerPrincipal:
		return prefix + principal
	case PerMethod:
		return prefix + method
	case PerAll:
		return prefix
	}
	return prefix + principal + "|" + method
}

// ratePrefixes are the rules' key prefixes: the rule's index keeps budgets of two rules apart.
func ratePrefixes(rules []RateRule) []string {
	out := make([]string, len(rules))
	for i := range rules {
		out[i] = "in:" + strconv.Itoa(i) + ":"
	}
	return out
}

// checkRateRules checks every rule, for Config.Validate.
func checkRateRules(rules []RateRule) error {
	var errs []error
	for i, r := range rules {
		errs = append(errs, r.check(i))
	}
	return errors.Join(errs...)
}

// WithLimiter sets where rate budgets are kept: inbound limits (limits.rate) use it. Default: in
// process memory (adapters.NewMemoryLimiter); a shared store makes replicas share budgets.
func WithLimiter(l adapters.Limiter) Option { return func(o *options) { o.limiter = l } }

// rateInterceptor refuses calls over an inbound budget. It runs after authentication (the
// principal is known) and the audit log (a refusal is logged like any outcome).
func (s *Server) rateInterceptor(rules []RateRule, limiter adapters.Limiter) grpc.UnaryServerInterceptor {
	prefixes := ratePrefixes(rules)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var method string
		if m := s.gen.Load().methods[info.FullMethod]; m != nil {
			method = string(m.desc.FullName()) // package.Service.Method, without building it
		} else {
			method = strings.ReplaceAll(strings.TrimPrefix(info.FullMethod, "/"), "/", ".")
		}
		principal := anonymous
		if p := PrincipalFromContext(ctx); p != nil {
			principal = p.ID
		}
		for i, r := range rules {
			if !r.matches(method, principal) {
				continue
			}
			after, ok, err := limiter.Take(ctx, r.key(prefixes[i], method, principal), r.Rate)
			if err != nil {
				s.metrics.limiterError("inbound")
				s.log.Warn("an inbound rate limit could not be checked; the call goes through", "rule", i, "method", method, "principal", principal, "err", err)
				continue
			}
			if !ok {
				s.metrics.rejected("inbound_rate", info.FullMethod)
				s.log.Warn("call refused: inbound rate limit reached", "rule", i, "method", method, "principal", principal, "per_second", r.PerSecond, "retry_after", after)
				return nil, rateExceeded(method, principal, r, after)
			}
		}
		return handler(ctx, req)
	}
}

// rateExceeded is the status of a call over an inbound budget.
func rateExceeded(method, principal string, r RateRule, after time.Duration) error {
	who := map[string]string{
		PerPrincipalMethod: fmt.Sprintf("%s on %s", principal, method),
		PerPrincipal:       principal,
		PerMethod:          "all callers of " + method,
		PerAll:             "all callers",
	}[r.Per]
	if who == "" {
		who = fmt.Sprintf("%s on %s", principal, method)
	}
	secs := adapters.RetryAfterSeconds(after)
	st := status.Newf(codes.ResourceExhausted, "rate limit reached: %s may make %g calls per second (burst %d); retry after %ds", who, r.PerSecond, r.EffectiveBurst(), secs)
	if ds, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: "agentbridge", Metadata: map[string]string{"method": method, "principal": principal, "retry_after": fmt.Sprintf("%ds", secs)}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(after)},
	); err == nil {
		st = ds
	}
	return st.Err()
}

// retryAfter returns the wait a status's RetryInfo asks for, and whether it has one.
func retryAfter(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
