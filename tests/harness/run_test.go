package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ostal/ostal/tests/checks"
)

func TestSkipped(t *testing.T) {
	noop := func(context.Context, checks.Machine) error { return nil }
	for _, c := range []struct {
		name     string
		needs    []string
		services []string
		note     string // "" when the check runs
	}{
		{"ssh", nil, nil, ""},
		{"persistence", nil, []string{"wiki", "tls"}, ""},
		{"wiki.edit", []string{"wiki", "tls"}, []string{"ssh", "tls", "wiki"}, ""},
		{"wiki.edit", []string{"wiki", "tls"}, []string{"tls", "dns"}, "the image has no wiki service"},
		{"wiki.edit", []string{"wiki", "tls"}, nil, "the image has no wiki or tls service"},
		{"lists.starttls", []string{"lists", "tls"}, []string{"lists"}, "the image has no tls service"},
		// Only the declaration counts, not the name: "ssh" is also a
		// service, but the ssh check runs on an image without it.
		{"ssh", nil, []string{"dns"}, ""},
		{"custom", []string{"dns"}, []string{"wiki"}, "the image has no dns service"},
	} {
		res, skip := skipped(checks.Check{Name: c.name, Services: c.needs, Run: noop}, c.services)
		if c.note == "" {
			assert.False(t, skip, "%s on %v", c.name, c.services)
			assert.Equal(t, Result{}, res)
			continue
		}
		assert.True(t, skip, "%s on %v", c.name, c.services)
		assert.Equal(t, Result{Check: c.name, OK: true, Skipped: true, Notes: []string{c.note}}, res)
	}
}
