package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ostal/ostal/images"
	"github.com/ostal/ostal/tests/checks"
)

// healthRegistry is a small registry of checks of every kind, with a log
// of what ran, in order.
func healthRegistry(log *[]string) *checks.Registry {
	run := func(name string, err error) func(context.Context, checks.Machine) error {
		return func(context.Context, checks.Machine) error { *log = append(*log, name); return err }
	}
	r := &checks.Registry{}
	r.Register(checks.Check{Name: "ssh", Run: run("ssh", nil)})
	r.Register(checks.Check{Name: "wiki.main-page", Services: []string{"wiki", "tls"}, Run: run("wiki.main-page", nil)})
	r.Register(checks.Check{Name: "wiki.edit", Services: []string{"wiki", "tls"}, Writes: "a wiki page", Run: run("wiki.edit", nil)})
	r.Register(checks.Check{Name: "www.post", Services: []string{"www", "tls"}, Writes: "a post", Run: run("www.post", nil)})
	r.Register(checks.Check{Name: "dav.login-required", Services: []string{"dav", "tls"}, Run: run("dav.login-required", errors.New("401 expected"))})
	// Its name is no service: only what it declares counts.
	r.Register(checks.Check{Name: "privacy.logs", Services: []string{"ssh"}, Run: run("privacy.logs", nil)})
	r.Register(checks.Check{Name: "no-trace", Run: run("no-trace", nil),
		Before: func(context.Context, checks.Machine) error { *log = append(*log, "no-trace before"); return nil }})
	r.Register(checks.Check{Name: "shutdown", Disruptive: true, Run: run("shutdown", nil)})
	return r
}

func planNames(p healthPlan) []string {
	var n []string
	for _, c := range p.Run {
		n = append(n, c.Name)
	}
	return n
}

func TestPlanHealthChecksRunsOnlyReadOnlyChecksOfTheImagesServices(t *testing.T) {
	all := []string{"ssh", "tls", "wiki", "www", "dav"}
	for _, c := range []struct {
		name                           string
		globs, services                []string
		run, writing, disruptive, miss []string
	}{
		{"a glob skips the writing checks", []string{"wiki.*"}, all,
			[]string{"wiki.main-page"}, []string{"wiki.edit"}, nil, nil},
		{"everything", []string{"*"}, all,
			[]string{"dav.login-required", "privacy.logs", "ssh", "wiki.main-page", "no-trace"}, []string{"wiki.edit", "www.post"}, []string{"shutdown"}, nil},
		{"services by declaration, not by name", []string{"privacy.logs", "wiki", "dav.*"}, []string{"wiki"},
			nil, []string{"wiki.edit"}, nil, []string{"dav.login-required (dav, tls)", "privacy.logs (ssh)", "wiki.main-page (tls)"}},
		{"a writing check's service missing: it writes anyway", []string{"www.post", "ssh"}, nil,
			[]string{"ssh"}, []string{"www.post"}, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log []string
			p, err := planHealthChecks(healthRegistry(&log), c.globs, c.services)
			require.NoError(t, err)
			assert.Equal(t, c.run, planNames(p), "run")
			assert.Equal(t, c.writing, p.Writing, "writing")
			assert.Equal(t, c.disruptive, p.Disruptive, "disruptive")
			assert.Equal(t, c.miss, p.Missing, "missing")
			for _, ch := range p.Run {
				assert.True(t, ch.ReadOnly() && !ch.Disruptive, ch.Name)
			}
		})
	}
	var log []string
	_, err := planHealthChecks(healthRegistry(&log), []string{"wikki"}, all)
	assert.ErrorContains(t, err, `no check is named "wikki"`)
}

func TestHealthPlanSaysWhatItSkipsAndWhy(t *testing.T) {
	var log []string
	p, err := planHealthChecks(healthRegistry(&log), []string{"*"}, []string{"ssh", "wiki"})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"skipping the checks that write, as production gets read-only checks only (ostal test --list says what each writes): wiki.edit, www.post",
		"skipping the disruptive checks, which stop or reboot the machine: shutdown",
		"skipping the checks of services the image lacks: dav.login-required (dav, tls), wiki.main-page (tls)",
	}, p.skipped())
	p, err = planHealthChecks(healthRegistry(&log), []string{"ssh"}, nil)
	require.NoError(t, err)
	assert.Empty(t, p.skipped())
}

type noMachine struct{ checks.Machine }

func TestHealthPlanRunsBeforeFirstAndReportsEveryFailure(t *testing.T) {
	var log []string
	p, err := planHealthChecks(healthRegistry(&log), []string{"*"}, []string{"ssh", "tls", "wiki", "dav"})
	require.NoError(t, err)
	err = p.run(context.Background(), noMachine{})
	assert.EqualError(t, err, "check dav.login-required: 401 expected")
	assert.Equal(t, []string{"no-trace before", "dav.login-required", "privacy.logs", "ssh", "wiki.main-page", "no-trace"}, log)
}

// Every wrong entry of health.checks is reported at once, with the rest
// of the file's problems.
func TestValidateRefusesHealthChecksThatWriteOrDisrupt(t *testing.T) {
	dir := t.TempDir()
	e := validEnvironment()
	e.Path = filepath.Join(dir, "test.yaml")
	require.NoError(t, os.WriteFile(e.Path, []byte("not: a key\n"), 0o644))
	e.VCPUs = 65
	e.Health.Checks = []string{"ssh", "www.post", "wiki.*", "shutdown", "files.webdav*", "wikki", "[tls"}
	ps := images.Problems(validate(e))
	post, _ := checks.Default.Lookup("www.post")
	got := map[string]string{}
	for _, p := range ps {
		got[p.Field] = p.Problem
		assert.NotEmpty(t, p.Hint, p.Field)
		assert.Equal(t, e.Path, p.File, p.Field)
	}
	assert.Equal(t, map[string]string{
		"vcpus":            "65 is out of range",
		"health.checks[1]": `"www.post" writes (` + post.Writes + `), so the deployer never runs it on production`,
		"health.checks[3]": `"shutdown" is disruptive: it stops or reboots the machine, so the deployer never runs it`,
		"health.checks[4]": `"files.webdav*" takes only checks that write or are disruptive (files.webdav), so the deployer runs none of them`,
		"health.checks[5]": `no check is named "wikki"`,
		"health.checks[6]": `"[tls" is not a check glob`,
	}, got)
	for _, p := range ps {
		if p.Field == "health.checks[1]" {
			assert.Contains(t, p.Hint, "ostal test --list")
		}
	}
}

// The production environment's globs keep, for every service of the
// image they name, at least one read-only check that proves it serves,
// and run no check that writes.
func TestTetaneutralChecksEveryServiceReadOnly(t *testing.T) {
	t.Chdir("..")
	prod, err := LoadEnvironment("tetaneutral")
	require.NoError(t, err)
	spec, err := images.Load("images/utzqanil.yaml")
	require.NoError(t, err)
	p, err := planHealthChecks(checks.Default, prod.Health.Checks, spec.Services)
	require.NoError(t, err)
	assert.Empty(t, p.Missing, "utzqanil has every service tetaneutral checks")
	for _, name := range []string{"www.post", "wiki.edit", "wiki.upload", "files.webdav", "files.anonymous", "dav.calendar", "lists.create", "lists.post", "lists.postmaster"} {
		assert.Contains(t, p.Writing, name, "production must not run %s", name)
	}
	for _, c := range p.Run {
		assert.Empty(t, c.Writes, c.Name)
	}
	for _, g := range prod.Health.Checks {
		if _, ok := checks.Default.Lookup(g); ok {
			assert.Contains(t, planNames(p), g, "production runs the check %s, named on its own", g)
			continue
		}
		svc := strings.TrimSuffix(g, ".*")
		if !slices.Contains(spec.Services, svc) {
			continue
		}
		var proofs []string
		for _, c := range p.Run {
			if slices.Contains(c.Services, svc) {
				proofs = append(proofs, c.Name)
			}
		}
		assert.NotEmpty(t, proofs, "health.checks %q leaves the %s service no read-only check on production", g, svc)
	}
}
