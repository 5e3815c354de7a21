package images

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// FieldError is one problem in a spec or lock: which file, which field, what
// is wrong (with the offending value quoted) and how to fix it.
type FieldError struct {
	File    string `json:"file"`
	Field   string `json:"field"` // YAML path such as packages[3] or files[0].mode
	Problem string `json:"problem"`
	Hint    string `json:"hint"`
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// problems collects FieldErrors so that a user sees every problem at once.
type problems struct {
	file string
	errs *multierror.Error
}

func (p *problems) add(field, hint, format string, args ...any) {
	p.errs = multierror.Append(p.errs, &FieldError{
		File: p.file, Field: field, Problem: fmt.Sprintf(format, args...), Hint: hint,
	})
}

func (p *problems) err() error {
	if p.errs == nil {
		return nil
	}
	p.errs.ErrorFormat = listFormat
	return p.errs.ErrorOrNil()
}

// listFormat prints one problem a line, so that long lists stay readable.
func listFormat(errs []error) string {
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error()
	}
	if len(errs) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(errs), strings.Join(lines, "\n  "))
}

// Problems lists the FieldErrors inside err (one, many, or none).
func Problems(err error) []*FieldError {
	var out []*FieldError
	var merr *multierror.Error
	if errors.As(err, &merr) {
		for _, e := range merr.Errors {
			out = append(out, Problems(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		out = append(out, fe)
	}
	return out
}
