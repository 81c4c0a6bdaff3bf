package adapters

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A kind's own settings live in a section of its backend's config named after the kind, beside
// the settings every kind shares (endpoint, timeout, auth, limits):
//
//	backends:
//	  tickets:
//	    kind: xmlrpc
//	    endpoint: http://tracker.internal/RPC2
//	    xmlrpc:             # the xmlrpc kind's own section
//	      ...
//
// The kind's factory decodes it with Backend.DecodeSettings into a struct of its own, strictly:
// a key the struct does not name is an error with its line, as everywhere else in the config.

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// checkSections reports every key of the backend's config that is neither a shared setting nor
// the section of the backend's kind, with its line. With only the shared settings known to a
// strict decoder, these keys are what the inline Sections map caught.
func (b Backend) checkSections() error {
	keys := make([]string, 0, len(b.Sections))
	for k := range b.Sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if k == b.Kind && b.Kind != "" {
			continue
		}
		n := b.Sections[k]
		hint := ""
		if slices.Contains(Kinds(), k) {
			hint = fmt.Sprintf("; a section named after a kind holds that kind's settings, and this backend's kind is %q", b.Kind)
		} else if near := nearest(k, sharedKeys()); near != "" {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		errs = append(errs, fmt.Errorf("backend %q: line %d: unknown setting %q%s", b.Name, n.Line, k, hint))
	}
	return errors.Join(errs...)
}

// CheckSections reports the keys of a backend's config that no kind reads: an unknown key, or
// the section of a kind other than the backend's. Config validation calls it before anything is
// built, so a misspelt key is reported with its line even when the backend's kind is unknown.
func (b Backend) CheckSections() error { return b.checkSections() }

// DecodeSettings decodes the backend's kind section (the key named after its kind) into v, a
// pointer to a struct with yaml tags, strictly: a key v does not name is an error with its line.
// Without a section v is left as it is (its defaults). A kind's factory calls it once; a section
// given to a kind whose factory never reads it is an error at start (see New), so a setting is
// never ignored without a word.
func (b Backend) DecodeSettings(v any) error {
	if b.settingsRead != nil {
		*b.settingsRead = true
	}
	n, ok := b.Sections[b.Kind]
	if !ok {
		return nil
	}
	where := fmt.Sprintf("backend %q: %s", b.Name, b.Kind)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if err := checkKnown(&n, reflect.TypeOf(v), where); err != nil {
		return err
	}
	if err := n.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// checkKnown walks n beside the Go type t it is about to be decoded into and reports each
// mapping key no field of t names, with its line: yaml's strict mode (KnownFields) holds for a
// whole document only, not for a node decoded on its own.
func checkKnown(n *yaml.Node, t reflect.Type, where string) error {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return nil // decodes itself
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // a type mismatch, which Decode reports with its line
		}
		fields, open := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				if open {
					continue
				}
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				hint := ""
				if near := nearest(k.Value, names); near != "" {
					hint = fmt.Sprintf("; did you mean %q?", near)
				}
				errs = append(errs, fmt.Errorf("%s: line %d: unknown setting %q (known: %s)%s", where, k.Line, k.Value, strings.Join(names, ", "), hint))
				continue
			}
			errs = append(errs, checkKnown(val, ft, where))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				errs = append(errs, checkKnown(c, t.Elem(), where))
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				errs = append(errs, checkKnown(n.Content[i], t.Elem(), where))
			}
		}
	}
	return errors.Join(errs...)
}

// yamlFields returns the keys a struct type decodes, with their types, inline structs included;
// open is true when an inline map takes any other key.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, open bool) {
	fields = map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if strings.Contains(flags, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				open = true
				continue
			}
			inner, innerOpen := yamlFields(ft)
			for k, v := range inner {
				fields[k] = v
			}
			open = open || innerOpen
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml's default key
		}
		fields[name] = f.Type
	}
	return fields, open
}

// sharedKeys are the keys of Backend every kind shares.
func sharedKeys() []string {
	fields, _ := yamlFields(reflect.TypeFor[Backend]())
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// nearest returns the name in names closest to s when it is a likely misspelling (an edit
// distance of at most 2, and less than half its length), or "".
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD && d*2 < len(n) {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
