package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/ssh"
)

// A keeper leaves a piece of one service's data on the machine, then
// proves it is still there: the persistence check runs the keepers of the
// machine's services before a swap to another image (or a reboot), and
// verifies after each. What it left is removed at the end.
type keeper struct {
	service string
	what    string
	// put leaves the data; verify proves it is unchanged; remove cleans up.
	put func(ctx context.Context, m Machine) (verify func(context.Context) error, remove func(), err error)
}

var keepers = []keeper{
	{"ssh", "the SSH host key", keepHostKey},
	{"dns", "the DNSSEC keys", keepDNSSECKeys},
	{"files", "a member's file", keepFile},
	{"dav", "a member's calendar event", keepEvent},
	{"wiki", "a wiki page", keepWikiPage},
	{"www", "a WordPress post", keepPost},
	{"lists", "a mailing list and its member", keepList},
}

// kept is the data left by the keepers of a machine's services.
type kept struct {
	names   []string
	verify  []func(context.Context) error
	removes []func()
}

// keepServiceData runs the keepers of the services the machine has; a
// machine without services (tiny) has none.
func keepServiceData(ctx context.Context, m Machine) (*kept, error) {
	k := &kept{}
	// Only a machine without site.json has no services; any other
	// failure to read it must not pass for "nothing to keep".
	if _, err := m.Run(ctx, "test -e /etc/ostal/site.json"); err != nil {
		return k, nil
	}
	site, err := siteInfo(ctx, m)
	if err != nil {
		return nil, err
	}
	for _, kp := range keepers {
		if !slices.Contains(site.Services, kp.service) {
			continue
		}
		verify, remove, err := kp.put(ctx, m)
		if err != nil {
			k.remove()
			return nil, fmt.Errorf("%s: leave %s: %w", kp.service, kp.what, err)
		}
		k.names = append(k.names, kp.service+": "+kp.what)
		k.verify = append(k.verify, verify)
		k.removes = append(k.removes, remove)
	}
	return k, nil
}

// check verifies every kept piece, reporting all that are lost, once the
// services say they are healthy again.
func (k *kept) check(ctx context.Context, m Machine, after string) error {
	if len(k.verify) == 0 {
		return nil
	}
	if err := WaitHealthy(ctx, m); err != nil {
		return fmt.Errorf("after %s: %w", after, err)
	}
	var errs []error
	for i, v := range k.verify {
		if err := v(ctx); err != nil {
			errs = append(errs, fmt.Errorf("after %s, %s is lost: %w", after, k.names[i], err))
		}
	}
	return errors.Join(errs...)
}

func (k *kept) remove() {
	for _, r := range k.removes {
		if r != nil {
			r()
		}
	}
}

func keepHostKey(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	addr, err := m.Addr(22)
	if err != nil {
		return nil, nil, err
	}
	before, err := hostKeyOf(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context) error {
		now, err := hostKeyOf(ctx, addr)
		if err == nil && now != before {
			err = fmt.Errorf("the host key was %s, it is now %s: admins would see a man-in-the-middle warning", before, now)
		}
		return err
	}, nil, nil
}

// hostKeyOf is the SHA256 fingerprint of the ed25519 key sshd at addr
// presents; the handshake stops there.
func hostKeyOf(ctx context.Context, addr string) (string, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("connect to sshd at %s: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var key string
	cfg := &ssh.ClientConfig{User: "root", HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = ssh.FingerprintSHA256(k)
			return errors.New("host key seen")
		}}
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if key == "" {
		return "", fmt.Errorf("sshd at %s showed no ed25519 host key: %w", addr, err)
	}
	return key, nil
}

func keepDNSSECKeys(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	tags := func(ctx context.Context) (string, error) {
		site, err := siteInfo(ctx, m)
		if err != nil {
			return "", err
		}
		r, err := dnsQuery(ctx, m, "auto", site.Domain, dns.TypeDNSKEY, true)
		if err != nil {
			return "", err
		}
		var t []string
		for _, rr := range r.Answer {
			if k, ok := rr.(*dns.DNSKEY); ok {
				t = append(t, fmt.Sprint(k.KeyTag()))
			}
		}
		slices.Sort(t)
		if len(t) == 0 {
			return "", errors.New("the zone has no DNSKEY")
		}
		return strings.Join(t, " "), nil
	}
	before, err := tags(ctx)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context) error {
		now, err := tags(ctx)
		if err == nil && now != before {
			err = fmt.Errorf("the DNSKEY tags were %s, they are now %s: the registrar's DS record would no longer match", before, now)
		}
		return err
	}, nil, nil
}

func keepFile(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	host, mb, removeMember, err := memberOf(ctx, m, "files")
	if err != nil {
		return nil, nil, err
	}
	body := []byte("kept by the persistence check " + randomHex(8) + "\n")
	u := SiteURL(m, host, mb.name+"/kept.txt")
	if _, err := newDAVClient(ctx, m, mb.name, mb.password).expect(http.MethodPut, u, body, nil, http.StatusCreated, http.StatusNoContent); err != nil {
		removeMember()
		return nil, nil, err
	}
	verify := func(ctx context.Context) error {
		r, err := newDAVClient(ctx, m, mb.name, mb.password).expect(http.MethodGet, u, nil, nil, http.StatusOK)
		if err == nil && !bytes.Equal(r.Body, body) {
			err = fmt.Errorf("GET %s: other bytes than were stored", u)
		}
		return err
	}
	remove := func() {
		newDAVClient(context.WithoutCancel(ctx), m, mb.name, mb.password).do(http.MethodDelete, SiteURL(m, host, mb.name+"/"), nil, nil)
		removeMember()
	}
	return verify, remove, nil
}

func keepEvent(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	host, mb, removeMember, err := memberOf(ctx, m, "dav")
	if err != nil {
		return nil, nil, err
	}
	cal := SiteURL(m, host, mb.name+"/kept/")
	uid := newUUID()
	event := calendarKind.item(uid, "kept "+randomHex(4))
	c := newDAVClient(ctx, m, mb.name, mb.password)
	if _, err = c.expect("MKCOL", cal, []byte(calendarKind.mkcol), map[string]string{"Content-Type": "application/xml"}, http.StatusCreated); err == nil {
		_, err = c.expect(http.MethodPut, cal+uid+".ics", []byte(event), map[string]string{"Content-Type": calendarKind.contentType}, http.StatusCreated)
	}
	remove := func() {
		newDAVClient(context.WithoutCancel(ctx), m, mb.name, mb.password).do(http.MethodDelete, SiteURL(m, host, mb.name+"/"), nil, nil)
		removeMember()
	}
	if err != nil {
		remove()
		return nil, nil, err
	}
	verify := func(ctx context.Context) error {
		r, err := newDAVClient(ctx, m, mb.name, mb.password).expect(http.MethodGet, cal+uid+".ics", nil, nil, http.StatusOK)
		if err == nil && !strings.Contains(string(r.Body), uid) {
			err = fmt.Errorf("GET the event: its UID %s is not in it", uid)
		}
		return err
	}
	return verify, remove, nil
}

func keepWikiPage(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	host, api, token, password, err := wikiAdmin(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	title := "Ostal kept " + randomHex(6)
	text := "ostal-kept-" + randomHex(12)
	a, err := api.post("edit", url.Values{"title": {title}, "text": {text}, "summary": {"ostal persistence check"},
		"createonly": {"1"}, "token": {token}})
	if err == nil {
		err = a.err("create the page " + title)
	}
	if err != nil {
		return nil, nil, hideSecrets(err, password)
	}
	page := SiteURL(m, host, "wiki/"+url.PathEscape(strings.ReplaceAll(title, " ", "_")))
	verify := func(ctx context.Context) error {
		r, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: page})
		if err == nil && (r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(text))) {
			err = fmt.Errorf("GET %s: %s, without the text written", page, r)
		}
		return err
	}
	remove := func() {
		// A new session: the swap restarted the wiki, and its cookie.
		if _, api, token, _, err := wikiAdmin(context.WithoutCancel(ctx), m); err == nil {
			wikiDelete(ctx, m, api, token, title)
		}
	}
	return verify, remove, nil
}

func keepPost(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	w, err := newWordpress(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	title := "Ostal kept " + randomHex(6)
	p, remove, err := w.publish(title, "Kept across a reboot and a swap.")
	if err != nil {
		return nil, nil, err
	}
	verify := func(ctx context.Context) error {
		ww := *w
		ww.ctx = ctx
		body, _, err := ww.visit(SiteURL(m, w.host, fmt.Sprintf("?p=%d", p.ID)))
		if err == nil && !bytes.Contains(body, []byte(title)) {
			err = fmt.Errorf("the post %d (%q) is not on the site", p.ID, title)
		}
		return err
	}
	return verify, remove, nil
}

func keepList(ctx context.Context, m Machine) (func(context.Context) error, func(), error) {
	l, remove, err := makeCheckList(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	verify := func(ctx context.Context) error {
		rest, err := newMailmanREST(ctx, m)
		if err != nil {
			return err
		}
		if err := rest.ready(ctx); err != nil {
			return err
		}
		_, err = rest.call(ctx, http.MethodGet, "lists/"+l.id()+"/member/"+l.member, nil, http.StatusOK)
		return err
	}
	return verify, func() { remove() }, nil
}

// WaitHealthy waits until the machine's own health report is all ok; a
// machine without one (no services) is healthy once it answers.
func WaitHealthy(ctx context.Context, m Machine) error {
	has, err := m.Run(ctx, "[ -x /usr/lib/ostal/health ] && echo yes || true")
	if err != nil {
		return err
	}
	if strings.TrimSpace(has) != "yes" {
		return nil
	}
	var out string
	for {
		t0 := time.Now()
		got, err := m.Run(ctx, HealthWaitCommand)
		if err == nil {
			return nil
		}
		// The last report says why; a run cut short by the deadline has none.
		if strings.TrimSpace(got) != "" {
			out = got
		}
		// The guest waited (--wait); a quick answer (a refused volume,
		// an image older than --wait) is asked again after a pause.
		select {
		case <-ctx.Done():
			return fmt.Errorf("the services did not become healthy: %s", strings.Join(strings.Fields(out), " "))
		case <-time.After(time.Until(t0.Add(3 * time.Second))):
		}
	}
}

// HealthWaitCommand asks the guest's health report to wait, in the guest,
// up to 20 s for every service to be healthy: one SSH login a round of
// 20 s, not one every few seconds (under emulation each login costs the
// booting guest seconds of CPU, and the pause between logins counted as
// unhealthy). Images older than --wait ignore it and answer at once.
const HealthWaitCommand = "/usr/lib/ostal/health --wait 20"
