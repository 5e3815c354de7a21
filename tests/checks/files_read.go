package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// files.login-required is the files' read-only proof of service, the one
// the deployer runs on production (files.webdav and files.anonymous make
// members): nginx serves the site's front page to anyone, and a
// member's folder only with a password it has checked against the
// members' password file.
func init() {
	Default.Register(Check{Name: "files.login-required", Summary: "https://files.D/ shows how to connect; a folder answers 401 with a Basic challenge without a password and with a wrong one (the members' password file read)",
		Timeout: time.Minute, Services: []string{"files", "tls"}, Run: func(ctx context.Context, m Machine) error {
			return checkLoginRequired(ctx, m, "files", "ostal-nobody-"+randomHex(4)+"/")
		}})
}

// checkLoginRequired checks the front page of the site of role, then
// that path on it refuses a PROPFIND and a GET without credentials and
// with a wrong password. nginx answers a request without credentials
// before it reads the password file, and one with credentials only
// after (a file it cannot read is a 500): both prove something.
func checkLoginRequired(ctx context.Context, m Machine, role, path string) error {
	host, err := siteName(ctx, m, role)
	if err != nil {
		return err
	}
	front := SiteURL(m, host, "/")
	body, final, err := visit(ctx, m, front)
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), "https://"+host+"/") {
		return fmt.Errorf("GET %s as a visitor (ended at %s): 200 but the page does not say to connect to https://%s/; it starts %q", front, final, host, clip(string(body), 200))
	}
	u := SiteURL(m, host, path)
	depth1 := map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
	var problems []string
	for _, c := range []struct {
		who string
		dav *davClient
	}{
		{"without credentials", newDAVClient(ctx, m, "", "")},
		{"with a wrong password", newDAVClient(ctx, m, "ostal-nobody-"+randomHex(4), "wrong-"+randomHex(8))},
	} {
		for _, method := range []string{"PROPFIND", http.MethodGet} {
			var b []byte
			if method == "PROPFIND" {
				b = []byte(propfindBody)
			}
			r, err := c.dav.do(method, u, b, depth1)
			switch {
			case err != nil:
				return err
			case r.Status != http.StatusUnauthorized:
				problems = append(problems, fmt.Sprintf("%s %s %s: %s, expected 401", method, u, c.who, r))
			case !strings.Contains(strings.ToLower(r.Header.Get("WWW-Authenticate")), "basic"):
				problems = append(problems, fmt.Sprintf("%s %s %s: 401 without a WWW-Authenticate: Basic challenge (got %q), so clients never ask for a password",
					method, u, c.who, r.Header.Get("WWW-Authenticate")))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	m.Note("%s shows how to connect; PROPFIND and GET of %s refused (401) without a password and with a wrong one", front, u)
	return nil
}
