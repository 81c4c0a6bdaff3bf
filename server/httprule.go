package server

import (
	"fmt"
	"strings"

	gapi "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// httpRoute is one REST binding of a method, from its google.api.http option or one of that
// option's additional_bindings. The REST surface and the OpenAPI document both read routes
// from here, so they cannot disagree about a path, a body or a parameter.
type httpRoute struct {
	// Verb is the HTTP method: GET, PUT, POST, DELETE, PATCH or a custom verb.
	Verb string
	// Template is the path template as written, e.g. /v1/{name=shelves/*}/books:reserve.
	Template string
	// Body is "" (no body: fields not in the path are query parameters), "*" (the whole request
	// message but the path fields) or a top-level field's proto name.
	Body string
	// ResponseBody is "" (the whole response message) or a top-level field's proto name.
	ResponseBody string
	// PathFields are the field paths the template binds, in order (proto names, dotted for
	// nested fields), e.g. ["name"] or ["item.sku"].
	PathFields []string
	// Index counts the method's routes from 0 (the main binding) on.
	Index int
}

// httpRoutes returns a method's REST routes, the main binding first, or none when the method
// has no google.api.http option. A route that names a field the messages do not have is an
// error, so a typo fails at start rather than at the first call.
func httpRoutes(md protoreflect.MethodDescriptor) ([]httpRoute, error) {
	rule, err := httpRule(md)
	if err != nil {
		return nil, fmt.Errorf("%s: google.api.http: %w", md.FullName(), err)
	}
	if rule == nil {
		return nil, nil
	}
	rules := append([]*gapi.HttpRule{rule}, rule.GetAdditionalBindings()...)
	routes := make([]httpRoute, 0, len(rules))
	for i, r := range rules {
		if i > 0 && len(r.GetAdditionalBindings()) > 0 {
			return nil, fmt.Errorf("%s: additional_bindings may not nest", md.FullName())
		}
		route, err := newHTTPRoute(md, r)
		if err != nil {
			return nil, fmt.Errorf("%s: google.api.http: %w", md.FullName(), err)
		}
		route.Index = i
		routes = append(routes, route)
	}
	return routes, nil
}

// httpRule reads a method's google.api.http option. proto.GetExtension cannot be used on the
// options as they come: descriptors compiled at run time (protocompile) hold the option as a
// dynamic message, on which it panics, and descriptors decoded without the extension known hold
// it as unknown bytes, in which it finds nothing. So the options are decoded afresh with the
// extension as linked into this binary.
func httpRule(md protoreflect.MethodDescriptor) (*gapi.HttpRule, error) {
	opts := md.Options()
	if opts == nil {
		return nil, nil
	}
	b, err := proto.Marshal(opts)
	if err != nil {
		return nil, err
	}
	var o descriptorpb.MethodOptions
	if err := proto.Unmarshal(b, &o); err != nil {
		return nil, err
	}
	if !proto.HasExtension(&o, gapi.E_Http) {
		return nil, nil
	}
	rule, _ := proto.GetExtension(&o, gapi.E_Http).(*gapi.HttpRule)
	return rule, nil
}

func newHTTPRoute(md protoreflect.MethodDescriptor, r *gapi.HttpRule) (httpRoute, error) {
	var route httpRoute
	switch p := r.GetPattern().(type) {
	case *gapi.HttpRule_Get:
		route.Verb, route.Template = "GET", p.Get
	case *gapi.HttpRule_Put:
		route.Verb, route.Template = "PUT", p.Put
	case *gapi.HttpRule_Post:
		route.Verb, route.Template = "POST", p.Post
	case *gapi.HttpRule_Delete:
		route.Verb, route.Template = "DELETE", p.Delete
	case *gapi.HttpRule_Patch:
		route.Verb, route.Template = "PATCH", p.Patch
	case *gapi.HttpRule_Custom:
		route.Verb, route.Template = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return route, fmt.Errorf("no pattern (get, put, post, delete, patch or custom)")
	}
	if route.Verb == "" || !strings.HasPrefix(route.Template, "/") {
		return route, fmt.Errorf("pattern %q %q: a verb and a path starting with / are required", route.Verb, route.Template)
	}
	fields, err := templateFields(route.Template)
	if err != nil {
		return route, fmt.Errorf("path %q: %w", route.Template, err)
	}
	for _, f := range fields {
		if _, err := fieldByPath(md.Input(), f); err != nil {
			return route, fmt.Errorf("path %q: %w", route.Template, err)
		}
	}
	route.PathFields = fields
	route.Body = r.GetBody()
	if route.Body != "" && route.Body != "*" {
		if md.Input().Fields().ByName(protoreflect.Name(route.Body)) == nil {
			return route, fmt.Errorf("body %q is not a field of %s", route.Body, md.Input().FullName())
		}
	}
	route.ResponseBody = r.GetResponseBody()
	if route.ResponseBody == "*" {
		route.ResponseBody = "" // grpc-gateway reads "*" as the whole response, like ""
	}
	if route.ResponseBody != "" && md.Output().Fields().ByName(protoreflect.Name(route.ResponseBody)) == nil {
		return route, fmt.Errorf("response_body %q is not a field of %s", route.ResponseBody, md.Output().FullName())
	}
	return route, nil
}

// templateFields lists the field paths of a path template's variables: {sku}, {item.sku} and
// {name=shelves/*} bind sku, item.sku and name.
func templateFields(template string) ([]string, error) {
	var fields []string
	rest := template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, fmt.Errorf("unbalanced }")
			}
			return fields, nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unbalanced {")
		}
		v := rest[open+1 : open+end]
		if eq := strings.IndexByte(v, '='); eq >= 0 {
			v = v[:eq]
		}
		if v == "" {
			return nil, fmt.Errorf("a variable has no field name")
		}
		fields = append(fields, v)
		rest = rest[open+end+1:]
	}
}

// fieldByPath resolves a dotted path of proto field names from md; every step but the last
// must be a singular message field.
func fieldByPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	parts := strings.Split(path, ".")
	out := make([]protoreflect.FieldDescriptor, 0, len(parts))
	for i, p := range parts {
		fd := md.Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return nil, fmt.Errorf("%q is not a field of %s", p, md.FullName())
		}
		out = append(out, fd)
		if i < len(parts)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, fmt.Errorf("%q in %q is not a singular message field", p, path)
			}
			md = fd.Message()
		}
	}
	return out, nil
}
