package images

import (
	"fmt"
	"os"

	"github.com/ostal/ostal/internal/yamlfile"
)

// Load reads a spec file, rejects unknown keys and badly typed values (all
// of them at once), and applies the defaults. It does not validate values:
// that is Validate's job, which needs the mirror's package index.
func Load(path string) (*Spec, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read spec %s: %w (pass the path of a spec, e.g. images/utzqanil.yaml)", path, err)
	}
	spec := &Spec{}
	if err := DecodeYAML(path, spec); err != nil {
		return nil, err
	}
	spec.Path = path
	ApplyDefaults(spec)
	return spec, nil
}

// DecodeYAML reads the YAML file at path into out, a pointer to a struct
// whose fields carry `mapstructure:"key"` tags, as Load reads a spec:
// unknown keys (with a did-you-mean hint) and badly typed values are
// returned all at once, as FieldErrors; an unreadable file or invalid YAML
// is one plain error.
func DecodeYAML(path string, out any) error {
	found, err := yamlfile.Decode(path, out)
	if err != nil {
		return err
	}
	p := &problems{file: path}
	for _, f := range found {
		p.add(f.Field, f.Hint, "%s", f.Problem)
	}
	return p.err()
}

// FieldErrors collects the problems of one file for validators outside
// this package (deploy's environments), so that their errors read, and
// unpack with Problems, like a spec's.
type FieldErrors struct{ p problems }

// NewFieldErrors starts an empty collection for file.
func NewFieldErrors(file string) *FieldErrors { return &FieldErrors{p: problems{file: file}} }

// Add records one problem: the YAML path, a fix, and what is wrong.
func (f *FieldErrors) Add(field, hint, format string, args ...any) {
	f.p.add(field, hint, format, args...)
}

// Err is nil without problems, else all of them, one a line.
func (f *FieldErrors) Err() error { return f.p.err() }
