package checks

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The lists' read-only proofs of service, the ones the deployer runs on
// production (lists.create, lists.post and lists.archive-privacy make a
// list, lists.postmaster a message): Postorius and HyperKitty answer
// visitors through nginx and uWSGI, Postorius' list index with the lists
// it asked Mailman's core for, and port 25 takes the roles' addresses at
// RCPT, no message sent.
func init() {
	Default.Register(Check{Name: "lists.index", Summary: "Mailman's core answers its REST API; visitors get Postorius' list index and HyperKitty's archive index over HTTPS",
		Timeout: 3 * time.Minute, Services: []string{"lists", "tls"}, Run: checkListsIndex})
	Default.Register(Check{Name: "lists.roles", Summary: "port 25 takes postmaster@ and abuse@ of D and listes.D at RCPT (250) and refuses any other address at D; no message is sent",
		Timeout: 2 * time.Minute, Services: []string{"lists"}, Run: checkListsRoles})
}

func checkListsIndex(ctx context.Context, m Machine) error {
	domain, err := siteName(ctx, m, "lists")
	if err != nil {
		return err
	}
	rest, err := newMailmanREST(ctx, m)
	if err != nil {
		return err
	}
	if err := rest.ready(ctx); err != nil {
		return fmt.Errorf("Mailman's REST API does not answer on the guest's 127.0.0.1:8001: %w", err)
	}
	// Postorius asks the core for the lists it shows: a 200 proves the
	// way from nginx through uWSGI and Django to Mailman.
	for _, p := range []struct{ path, app, mark string }{
		{"mailman3/lists/", "Postorius' list index", "/mailman3/"},
		{"archives/", "HyperKitty's archive index", "/archives/"},
	} {
		start := time.Now()
		u := SiteURL(m, domain, p.path)
		body, final, err := visit(ctx, m, u)
		if err != nil {
			return fmt.Errorf("%s: %w", p.app, err)
		}
		if !strings.Contains(string(body), p.mark) || !strings.Contains(strings.ToLower(string(body)), "<html") {
			return fmt.Errorf("%s %s (ended at %s): 200 but not its HTML page (no link under %s); it starts %q", p.app, u, final, p.mark, clip(string(body), 200))
		}
		m.Note("%s at %s in %.1f s", p.app, final, time.Since(start).Seconds())
	}
	return nil
}

func checkListsRoles(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	lists, err := site.Name("lists")
	if err != nil {
		return err
	}
	c, err := smtpSession(ctx, m)
	if err != nil {
		return err
	}
	defer c.Close()
	sender := "ostal-check-" + randomHex(6) + "@example.net"
	roles := []string{"postmaster@" + site.Domain, "abuse@" + site.Domain, "postmaster@" + lists, "abuse@" + lists}
	code, err := roleRecipients(c, sender, roles, site.Domain, site.Postmaster)
	if err != nil {
		return err
	}
	// RSET drops the envelope: no DATA, so no message exists.
	if err := c.Reset(); err != nil {
		return fmt.Errorf("RSET: %w", err)
	}
	m.Note("RCPT TO %s: 250; any other address at %s refused (%d); no message sent", strings.Join(roles, ", "), site.Domain, code)
	return c.Quit()
}
