package server

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// This file decides which principal may call which method: the scopes a method needs come from
// the config's auth.scopes (most specific pattern first) or the method's (agentbridge.v1.scopes)
// option. The same decision refuses a call on every surface and hides a tool in MCP tools/list.

// requirement is what a method needs: every scope in all, and one in any when any is set.
type requirement struct {
	all, any []string
}

type scopePattern struct {
	glob   string
	scopes []string
}

// scopePolicy resolves and caches each method's requirement.
type scopePolicy struct {
	patterns []scopePattern // most specific first
	cache    sync.Map       // protoreflect.MethodDescriptor → requirement; a reload brings new descriptors
}

func newScopePolicy(cfg map[string][]string) *scopePolicy {
	sp := &scopePolicy{}
	for glob, scopes := range cfg {
		sp.patterns = append(sp.patterns, scopePattern{glob: glob, scopes: scopes})
	}
	// An exact name beats any glob, a longer glob a shorter one; ties go by name, so the choice
	// never depends on map order.
	sort.Slice(sp.patterns, func(i, j int) bool {
		a, b := sp.patterns[i], sp.patterns[j]
		if ea, eb := !isGlob(a.glob), !isGlob(b.glob); ea != eb {
			return ea
		}
		if len(a.glob) != len(b.glob) {
			return len(a.glob) > len(b.glob)
		}
		return a.glob < b.glob
	})
	return sp
}

func isGlob(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func checkGlob(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad pattern %q", p)
	}
	return nil
}

// requirement returns what md needs.
func (sp *scopePolicy) requirement(md protoreflect.MethodDescriptor) requirement {
	if r, ok := sp.cache.Load(md); ok {
		return r.(requirement)
	}
	r := sp.resolve(md)
	sp.cache.Store(md, r)
	return r
}

func (sp *scopePolicy) resolve(md protoreflect.MethodDescriptor) requirement {
	name := string(md.FullName())
	for _, p := range sp.patterns {
		if ok, _ := path.Match(p.glob, name); ok {
			return requirement{all: p.scopes}
		}
	}
	if md.Options() != nil {
		if opt, ok := proto.GetExtension(md.Options(), agentbridgev1.E_Scopes).(*agentbridgev1.Scopes); ok && opt != nil {
			return requirement{all: opt.GetAll(), any: opt.GetAny()}
		}
	}
	return requirement{}
}

// missing returns the scopes p lacks for r, or nil when p may call.
func (r requirement) missing(p *Principal) []string {
	if p.Method == AuthLocal {
		return nil
	}
	var lack []string
	for _, s := range r.all {
		if !p.HasScope(s) {
			lack = append(lack, s)
		}
	}
	if len(r.any) > 0 && !slices.ContainsFunc(r.any, p.HasScope) {
		lack = append(lack, strings.Join(r.any, " or "))
	}
	return lack
}

// allows reports whether p may call md.
func (sp *scopePolicy) allows(p *Principal, md protoreflect.MethodDescriptor) bool {
	return sp.requirement(md).missing(p) == nil
}

// check refuses a call p may not make, naming the scopes it lacks.
func (sp *scopePolicy) check(p *Principal, md protoreflect.MethodDescriptor) error {
	lack := sp.requirement(md).missing(p)
	if lack == nil {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "%s needs the scope %s, which %s (%s) does not have; ask for a credential with it",
		md.FullName(), strings.Join(lack, " and "), p.ID, p.Method)
}

// knownScopes lists every scope the policy and the methods mention, for the protected resource
// metadata's scopes_supported.
func (sp *scopePolicy) knownScopes(methods map[string]*method) []string {
	seen := map[string]bool{}
	for _, p := range sp.patterns {
		for _, s := range p.scopes {
			seen[s] = true
		}
	}
	for _, m := range methods {
		r := sp.requirement(m.desc)
		for _, s := range slices.Concat(r.all, r.any) {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
