package checks

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// Files: each member has a WebDAV folder at https://files.D/NAME/ that
// only they can read and write.
func init() {
	Default.Register(Check{Name: "files.webdav", Summary: "a member stores, lists, reads and deletes files and folders in their WebDAV folder",
		Timeout: 2 * time.Minute, Services: []string{"files", "tls"}, Run: checkFilesWebDAV,
		Writes: "a member account with a folder, a file and a subfolder, removed at the end"})
	Default.Register(Check{Name: "files.anonymous", Summary: "WebDAV folders refuse visitors without the right password, and members in others' folders",
		Timeout: 3 * time.Minute, Services: []string{"files", "tls"}, Run: checkFilesAnonymous,
		Writes: "two member accounts with files in their folders, removed at the end"})
}

// propfindBody asks for the properties a listing needs.
const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>`

// multistatus is a WebDAV 207 answer, with the properties the checks read.
type multistatus struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		Propstats []struct {
			Prop struct {
				ResourceType struct {
					Collection  *struct{} `xml:"DAV: collection"`
					Calendar    *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
					AddressBook *struct{} `xml:"urn:ietf:params:xml:ns:carddav addressbook"`
				} `xml:"DAV: resourcetype"`
				CalendarData string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
				AddressData  string `xml:"urn:ietf:params:xml:ns:carddav address-data"`
			} `xml:"DAV: prop"`
			Status string `xml:"DAV: status"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

func parseMultistatus(body []byte) (multistatus, error) {
	var ms multistatus
	if err := xml.Unmarshal(body, &ms); err != nil {
		return ms, fmt.Errorf("the answer is not a WebDAV multistatus: %v; it starts %q", err, clip(string(body), 120))
	}
	return ms, nil
}

// davChildren reads a Depth: 1 PROPFIND answer on the collection at
// basePath and returns its members' names, with a trailing slash for
// collections.
func davChildren(body []byte, basePath string) ([]string, error) {
	ms, err := parseMultistatus(body)
	if err != nil {
		return nil, err
	}
	base := path.Clean("/" + basePath)
	var names []string
	self := false
	for _, r := range ms.Responses {
		u, err := url.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			return nil, fmt.Errorf("the listing has the href %q, expected a URL path", r.Href)
		}
		p := path.Clean("/" + u.Path)
		if p == base {
			self = true
			continue
		}
		if path.Dir(p) != base {
			return nil, fmt.Errorf("the listing of %s/ holds %s, which is not directly in it", base, p)
		}
		name := path.Base(p)
		for _, ps := range r.Propstats {
			if ps.Prop.ResourceType.Collection != nil {
				name += "/"
				break
			}
		}
		names = append(names, name)
	}
	if !self {
		return nil, fmt.Errorf("the listing does not describe %s/ itself, expected it among %d entries", base, len(ms.Responses))
	}
	slices.Sort(names)
	return names, nil
}

// davClient is one identity talking to one WebDAV or CalDAV server.
type davClient struct {
	ctx        context.Context
	client     *http.Client
	user, pass string
}

func newDAVClient(ctx context.Context, m Machine, user, pass string) *davClient {
	// A client of its own, so that no cookie of another identity comes along.
	return &davClient{ctx: ctx, client: WebClient(m), user: user, pass: pass}
}

func (c *davClient) do(method, u string, body []byte, header map[string]string) (webResult, error) {
	return doWeb(c.ctx, c.client, webCall{Method: method, URL: u, Body: body, Header: header, User: c.user, Pass: c.pass})
}

// expect runs a request and checks its status is one of want.
func (c *davClient) expect(method, u string, body []byte, header map[string]string, want ...int) (webResult, error) {
	r, err := c.do(method, u, body, header)
	if err != nil {
		return r, err
	}
	if !slices.Contains(want, r.Status) {
		who := "anonymously"
		if c.user != "" {
			who = "as " + c.user
		}
		return r, fmt.Errorf("%s %s %s: %s, expected %s", method, u, who, r, statusList(want))
	}
	return r, nil
}

func statusList(codes []int) string {
	var s []string
	for _, c := range codes {
		s = append(s, fmt.Sprintf("%d", c))
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (c *davClient) list(u string) ([]string, error) {
	r, err := c.expect("PROPFIND", u, []byte(propfindBody),
		map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, http.StatusMultiStatus)
	if err != nil {
		return nil, err
	}
	p, _ := url.Parse(u)
	names, err := davChildren(r.Body, p.Path)
	if err != nil {
		return nil, fmt.Errorf("PROPFIND %s: %w", u, err)
	}
	return names, nil
}

func checkFilesWebDAV(ctx context.Context, m Machine) (err error) {
	host, mb, remove, err := memberOf(ctx, m, "files")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := remove(); err == nil {
			err = rerr
		}
		err = hideSecrets(err, mb.password)
	}()
	c := newDAVClient(ctx, m, mb.name, mb.password)
	folder := SiteURL(m, host, mb.name+"/")
	file, sub := folder+"ostal-check.txt", folder+"ostal-check-folder/"
	defer func() {
		// Leave nothing behind, whatever failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		cc := *c
		cc.ctx = cctx
		cc.do(http.MethodDelete, file, nil, nil)
		cc.do(http.MethodDelete, sub, nil, nil)
		// ostal-member add made the folder; remove keeps it.
		if problem := deleted(&cc, folder); problem != "" {
			m.Note("could not delete the member's folder %s: %s", folder, problem)
		}
	}()

	content := []byte("ostal check " + randomHex(16) + "\nsecond line\n")
	start := time.Now()
	if r, err := c.expect(http.MethodPut, file, content, map[string]string{"Content-Type": "text/plain"},
		http.StatusCreated, http.StatusNoContent); err != nil {
		if r.Status == http.StatusConflict {
			return fmt.Errorf("%w (409: the member's folder %s does not exist; ostal-member add should make it)", err, folder)
		}
		return err
	}
	m.Note("PUT %d bytes in %d ms", len(content), time.Since(start).Milliseconds())
	names, err := c.list(folder)
	if err != nil {
		return err
	}
	if !slices.Contains(names, "ostal-check.txt") {
		return fmt.Errorf("PROPFIND %s lists %q, expected ostal-check.txt among them", folder, names)
	}
	r, err := c.expect(http.MethodGet, file, nil, nil, http.StatusOK)
	if err != nil {
		return err
	}
	if !bytes.Equal(r.Body, content) {
		return fmt.Errorf("GET %s returned %d bytes %q, expected the %d bytes put %q", file, len(r.Body), clip(string(r.Body), 80), len(content), content)
	}
	if _, err := c.expect("MKCOL", sub, nil, nil, http.StatusCreated); err != nil {
		return err
	}
	if _, err := c.expect(http.MethodDelete, file, nil, nil, http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	if names, err = c.list(folder); err != nil {
		return err
	}
	if slices.Contains(names, "ostal-check.txt") {
		return fmt.Errorf("PROPFIND %s still lists ostal-check.txt after its DELETE: %q", folder, names)
	}
	if !slices.Contains(names, "ostal-check-folder/") {
		return fmt.Errorf("PROPFIND %s lists %q, expected the folder ostal-check-folder/ made by MKCOL", folder, names)
	}
	if _, err := c.expect(http.MethodDelete, sub, nil, nil, http.StatusNoContent, http.StatusOK); err != nil {
		return err
	}
	m.Note("PUT, PROPFIND, GET, MKCOL, DELETE as %s in %.1f s", mb.name, time.Since(start).Seconds())
	return nil
}

func checkFilesAnonymous(ctx context.Context, m Machine) (err error) {
	host, err := siteName(ctx, m, "files")
	if err != nil {
		return err
	}
	a, removeA, err := addMember(ctx, m)
	if err != nil {
		return err
	}
	var b member
	removeB := func() error { return nil }
	defer func() {
		rerr := errors.Join(removeB(), removeA())
		if err == nil {
			err = rerr
		}
		err = hideSecrets(err, a.password, b.password)
	}()
	if b, removeB, err = addMember(ctx, m); err != nil {
		return err
	}

	owner := newDAVClient(ctx, m, b.name, b.password)
	folder := SiteURL(m, host, b.name+"/")
	file := folder + "ostal-private.txt"
	strays := []string{file, folder + "ostal-anonymous.txt", folder + "ostal-intruder.txt", folder + "ostal-wrong.txt", folder + "ostal-moved.txt"}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		cc := *owner
		cc.ctx = cctx
		for _, u := range strays {
			cc.do(http.MethodDelete, u, nil, nil)
		}
		// ostal-member add made the folders; remove keeps them.
		for _, who := range []*davClient{&cc, newDAVClient(cctx, m, a.name, a.password)} {
			f := SiteURL(m, host, who.user+"/")
			if problem := deleted(who, f); problem != "" {
				m.Note("could not delete the member's folder %s: %s", f, problem)
			}
		}
	}()
	content := []byte("private " + randomHex(8) + "\n")
	if _, err := owner.expect(http.MethodPut, file, content, nil, http.StatusCreated, http.StatusNoContent); err != nil {
		return err
	}
	if _, err := owner.expect(http.MethodGet, file, nil, nil, http.StatusOK); err != nil {
		return fmt.Errorf("the owner cannot read their own file, so refusals below would prove nothing: %w", err)
	}

	var problems []string
	try := func(c *davClient, who, method, u string, body []byte, header map[string]string, want ...int) {
		r, err := c.do(method, u, body, header)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s %s %s: %v", method, u, who, err))
		case !slices.Contains(want, r.Status):
			problems = append(problems, fmt.Sprintf("%s %s %s: %s, expected %s", method, u, who, r, statusList(want)))
		case r.Status == http.StatusUnauthorized && !strings.Contains(strings.ToLower(r.Header.Get("WWW-Authenticate")), "basic"):
			problems = append(problems, fmt.Sprintf("%s %s %s: 401 without a WWW-Authenticate: Basic challenge (got %q), so clients never ask for a password",
				method, u, who, r.Header.Get("WWW-Authenticate")))
		}
	}
	depth1 := map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}

	anon := newDAVClient(ctx, m, "", "")
	try(anon, "without credentials", http.MethodGet, file, nil, nil, http.StatusUnauthorized)
	try(anon, "without credentials", http.MethodPut, folder+"ostal-anonymous.txt", []byte("x"), nil, http.StatusUnauthorized)
	try(anon, "without credentials", "PROPFIND", folder, []byte(propfindBody), depth1, http.StatusUnauthorized)

	wrong := newDAVClient(ctx, m, b.name, "wrong-"+randomHex(8))
	try(wrong, "with a wrong password", http.MethodGet, file, nil, nil, http.StatusUnauthorized)
	try(wrong, "with a wrong password", http.MethodPut, folder+"ostal-wrong.txt", []byte("x"), nil, http.StatusUnauthorized)
	try(wrong, "with a wrong password", "PROPFIND", folder, []byte(propfindBody), depth1, http.StatusUnauthorized)

	other := newDAVClient(ctx, m, a.name, a.password)
	who := "as the other member " + a.name
	try(other, who, http.MethodGet, file, nil, nil, http.StatusForbidden, http.StatusUnauthorized)
	try(other, who, http.MethodPut, folder+"ostal-intruder.txt", []byte("x"), nil, http.StatusForbidden, http.StatusUnauthorized)
	try(other, who, "PROPFIND", folder, []byte(propfindBody), depth1, http.StatusForbidden, http.StatusUnauthorized)
	// COPY and MOVE from one's own folder write to the Destination: it
	// must not be someone else's.
	own := SiteURL(m, host, a.name+"/ostal-own.txt")
	if _, err := other.expect(http.MethodPut, own, []byte("a's own\n"), nil, http.StatusCreated, http.StatusNoContent); err != nil {
		return err
	}
	try(other, who, "COPY", own, nil, map[string]string{"Destination": file}, http.StatusForbidden)
	try(other, who, "MOVE", own, nil, map[string]string{"Destination": folder + "ostal-moved.txt"}, http.StatusForbidden)
	if r, err := newDAVClient(ctx, m, b.name, b.password).expect(http.MethodGet, file, nil, nil, http.StatusOK); err != nil || !bytes.Equal(r.Body, content) {
		problems = append(problems, fmt.Sprintf("after %s's COPY and MOVE, %s's file is no longer what they stored", a.name, b.name))
	}

	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	m.Note("refused 11 requests: anonymous, wrong password, and %s in %s's folder, COPY and MOVE included", a.name, b.name)
	return nil
}

// deleted deletes a URL and says what went wrong, or "".
func deleted(c *davClient, u string) string {
	r, err := c.do(http.MethodDelete, u, nil, nil)
	switch {
	case err != nil:
		return err.Error()
	case r.Status != http.StatusOK && r.Status != http.StatusNoContent:
		return r.String()
	}
	return ""
}
