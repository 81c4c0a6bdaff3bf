package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
)

const importUsage = `usage: agentbridge import wsdl SOURCE -o DIR [flags]

SOURCE is a WSDL file or an http(s) URL such as https://host/Service.asmx?wsdl; what it imports
is read relative to it. Writes DIR/agentbridge.yaml and the proto under DIR, then prints a report.
Serve the result with: agentbridge serve -config DIR/agentbridge.yaml

flags:
`

// importCmd runs "agentbridge import wsdl".
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "wsdl" {
		fmt.Fprint(stderr, importUsage)
		return errors.New(`import needs a kind: "agentbridge import wsdl SOURCE -o DIR"`)
	}
	fs := flag.NewFlagSet("import wsdl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage); fs.PrintDefaults() }
	out := fs.String("o", "", "output directory (created if missing); required")
	pkg := fs.String("package", "", "proto package (default: from the WSDL's target namespace, ending in .v1)")
	binding := fs.String("binding", "", "the binding to import by name (default: SOAP 1.1 where a portType has it, else SOAP 1.2)")
	readOnly := fs.String("read-only", "", "comma-separated glob patterns of operations that only read (such as 'Get*,List*'); they are served as safe to call without confirmation")
	endpoint := fs.String("endpoint", "", "backend endpoint (default: the address the WSDL's service names)")
	backend := fs.String("backend", "", "backend name in the config (default: from the WSDL's service name)")
	catalog := fs.String("catalog", "", "a file of 'LOCATION LOCAL-FILE' lines: absolute locations read from local files instead of fetched")
	var source string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if source != "" {
			return fmt.Errorf("one SOURCE only; got %q and %q", source, fs.Arg(0))
		}
		source, rest = fs.Arg(0), fs.Args()[1:]
	}
	if source == "" || *out == "" {
		fs.Usage()
		return errors.New("import wsdl needs SOURCE and -o DIR")
	}
	opts := wsdl.Options{Package: *pkg, Binding: *binding, Endpoint: *endpoint, Backend: *backend, OutDir: *out}
	for _, p := range strings.Split(*readOnly, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, err := filepath.Match(p, ""); err != nil {
				return fmt.Errorf("--read-only %q: %w", p, err)
			}
			opts.ReadOnly = append(opts.ReadOnly, p)
		}
	}
	if *catalog != "" {
		c, err := wsdl.ReadCatalog(*catalog)
		if err != nil {
			return err
		}
		opts.Catalog = c
	}
	res, err := wsdl.Import(ctx, source, opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := res.WriteTo(*out); err != nil {
		return err
	}
	fmt.Fprint(stdout, res.Report.String())
	fmt.Fprintf(stdout, "\nwrote %s and %s\nserve it: agentbridge serve -config %s\n",
		filepath.Join(*out, filepath.FromSlash(res.ProtoPath)), filepath.Join(*out, "agentbridge.yaml"), filepath.Join(*out, "agentbridge.yaml"))
	return nil
}
