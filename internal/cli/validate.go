package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ostal/ostal/images"
)

type validateResult struct {
	Spec     string               `json:"spec"`
	OK       bool                 `json:"ok"`
	Packages int                  `json:"packages"`
	Problems []*images.FieldError `json:"problems"`
	Error    string               `json:"error,omitempty"`
}

func runValidate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "validate", "[spec.yaml...]",
		"Check image specs: keys, values, files to install, and that every package exists in the suite.\n"+
			"Every problem is reported at once, each with file, field and a fix. Nothing is built.",
		"ostal validate                          # images/utzqanil.yaml",
		"ostal validate images/*.yaml --json     # for scripts",
		"ostal validate --offline tests/images/tiny.yaml")
	offline := fs.Bool("offline", false, "skip the checks that need the Debian mirror (package names)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cache, provision := specFlags(fs, env)
	if err := parse(fs, args); err != nil {
		return err
	}
	var results []validateResult
	failed := false
	for _, path := range specArgs(fs) {
		r := validateOne(ctx, path, *cache, *provision, *offline)
		failed = failed || !r.OK
		results = append(results, r)
		if *asJSON {
			continue
		}
		if r.OK {
			fmt.Fprintf(env.Stdout, "%s: ok (%d packages)\n", path, r.Packages)
		} else {
			fmt.Fprintln(env.Stderr, r.Error)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	}
	if failed {
		return errors.New("the spec has problems; nothing was built")
	}
	return nil
}

func validateOne(ctx context.Context, path, cache, provision string, offline bool) validateResult {
	r := validateResult{Spec: path}
	spec, err := images.Load(path)
	if err == nil {
		r.Packages = len(spec.AllPackages())
		var idx images.PackageIndex
		if !offline {
			archive, aerr := images.OpenArchive(ctx, cache, spec)
			if aerr != nil {
				err = aerr
			} else {
				idx = archive.Index
			}
		}
		if err == nil {
			err = images.Validate(spec, provision, idx)
		}
	}
	if err != nil {
		r.Error = err.Error()
		r.Problems = images.Problems(err)
		return r
	}
	r.OK = true
	return r
}
