package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// WWW: WordPress at https://www.D, also reached at https://D. Posts are
// written through the REST API with the admin's application password.
func init() {
	Default.Register(Check{Name: "www.post", Summary: "a post published through the REST API shows on the front page, at www.D and at D",
		Timeout: 3 * time.Minute, Services: []string{"www", "tls"}, Run: checkWWWPost,
		Writes: "a published post, on the front page and in the feeds until it is deleted for good at the end"})
	Default.Register(Check{Name: "www.no-author-email", Summary: "visitors see no e-mail address (nor Gravatar hash) in the REST API's users and posts",
		Timeout: 3 * time.Minute, Services: []string{"www", "tls"}, Run: checkWWWNoAuthorEmail,
		Writes: "a published post (so that there is one to look at), deleted for good at the end"})
}

// wordpress is the site's host names and the admin's REST credentials.
type wordpress struct {
	ctx         context.Context
	m           Machine
	host, apex  string
	appPassword string
	admin       *http.Client
}

func newWordpress(ctx context.Context, m Machine) (*wordpress, error) {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return nil, err
	}
	w := &wordpress{ctx: ctx, m: m, admin: WebClient(m)}
	if w.host, err = site.Name("www"); err != nil {
		return nil, err
	}
	if w.apex, err = site.Name("apex"); err != nil {
		return nil, err
	}
	if w.appPassword, err = guestSecret(ctx, m, "wordpress-app"); err != nil {
		return nil, err
	}
	return w, nil
}

// rest calls the REST API as admin (the application password) and decodes
// a JSON answer of one of the wanted statuses into out.
func (w *wordpress) rest(method, route string, body any, out any, want ...int) error {
	call := webCall{Method: method, URL: SiteURL(w.m, w.host, "wp-json/wp/v2/"+route), User: "admin", Pass: w.appPassword}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		call.Body = b
		call.Header = map[string]string{"Content-Type": "application/json"}
	}
	r, err := doWeb(w.ctx, w.admin, call)
	if err != nil {
		return hideSecrets(err, w.appPassword)
	}
	ok := false
	for _, s := range want {
		ok = ok || r.Status == s
	}
	if !ok {
		return hideSecrets(fmt.Errorf("%s %s as admin: %s, expected %s", method, call.URL, r, statusList(want)), w.appPassword)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the expected JSON: %v; it starts %q", method, call.URL, err, clip(string(r.Body), 120))
		}
	}
	return nil
}

// wpPost is what the checks read of a post.
type wpPost struct {
	ID     int    `json:"id"`
	Link   string `json:"link"`
	Status string `json:"status"`
	Author int    `json:"author"`
	Title  struct {
		Rendered string `json:"rendered"`
	} `json:"title"`
}

// publish makes a published post and returns it with a function that
// deletes it for good, even after the check's context has ended.
func (w *wordpress) publish(title, content string) (wpPost, func(), error) {
	var p wpPost
	err := w.rest(http.MethodPost, "posts", map[string]string{"title": title, "content": content, "status": "publish"},
		&p, http.StatusCreated)
	if err != nil {
		return p, func() {}, err
	}
	remove := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
		defer cancel()
		ww := *w
		ww.ctx = cctx
		if err := ww.rest(http.MethodDelete, fmt.Sprintf("posts/%d?force=true", p.ID), nil, nil, http.StatusOK); err != nil {
			w.m.Note("could not delete the post %d: %v", p.ID, err)
		}
	}
	if p.ID == 0 || p.Status != "publish" {
		remove()
		return p, func() {}, fmt.Errorf("POST posts made the post %d with status %q, expected a published post", p.ID, p.Status)
	}
	return p, remove, nil
}

// visit GETs a page as a visitor (a fresh client) and returns its body and
// the address it ended at after redirects.
func (w *wordpress) visit(u string) ([]byte, string, error) { return visit(w.ctx, w.m, u) }

// visit GETs a page as a visitor (a fresh client, following redirects)
// and returns its body and the address it ended at; any status but 200
// is an error.
func visit(ctx context.Context, m Machine, u string) ([]byte, string, error) {
	c := WebClient(m)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, "", fmt.Errorf("GET %s: read the answer: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s as a visitor: %s, expected 200", u, describe(resp.StatusCode, b.Bytes()))
	}
	return b.Bytes(), resp.Request.URL.String(), nil
}

func checkWWWPost(ctx context.Context, m Machine) error {
	w, err := newWordpress(ctx, m)
	if err != nil {
		return err
	}
	title := "Ostal check " + randomHex(6)
	start := time.Now()
	p, remove, err := w.publish(title, "<p>Written by the check www.post.</p>")
	defer remove()
	if err != nil {
		return err
	}
	m.Note("published the post %d %q in %.1f s", p.ID, title, time.Since(start).Seconds())

	for _, host := range []string{w.host, w.apex} {
		start := time.Now()
		front := SiteURL(m, host, "/")
		body, final, err := w.visit(front)
		if err != nil {
			return err
		}
		if !bytes.Contains(body, []byte(title)) {
			return fmt.Errorf("GET %s as a visitor (ended at %s): the front page does not show the post %q; it starts %q",
				front, final, title, clip(string(body), 200))
		}
		if u, err := url.Parse(final); err != nil || u.Scheme != "https" {
			return fmt.Errorf("GET %s ended at %s, not at an https address", front, final)
		}
		m.Note("%s shows it (at %s) in %.1f s", front, final, time.Since(start).Seconds())
	}
	return nil
}

// emailAddress finds things shaped like e-mail addresses; image names such
// as logo@2x.png are not.
var emailAddress = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)

func emailsIn(body []byte) []string {
	var found []string
	for _, e := range emailAddress.FindAllString(string(body), -1) {
		low := strings.ToLower(e)
		if strings.HasSuffix(low, ".png") || strings.HasSuffix(low, ".jpg") || strings.HasSuffix(low, ".jpeg") ||
			strings.HasSuffix(low, ".gif") || strings.HasSuffix(low, ".svg") || strings.HasSuffix(low, ".webp") {
			continue
		}
		found = append(found, e)
	}
	return found
}

func checkWWWNoAuthorEmail(ctx context.Context, m Machine) error {
	w, err := newWordpress(ctx, m)
	if err != nil {
		return err
	}
	// The admin's real address, as only the admin may see it.
	var me struct {
		ID    int    `json:"id"`
		Email string `json:"email"`
	}
	if err := w.rest(http.MethodGet, "users/me?context=edit", nil, &me, http.StatusOK); err != nil {
		return err
	}
	if me.Email == "" {
		return fmt.Errorf("GET users/me?context=edit as admin gives no e-mail address, so its absence below would prove nothing")
	}
	p, remove, err := w.publish("Ostal check "+randomHex(6), "<p>Written by the check www.no-author-email.</p>")
	defer remove()
	if err != nil {
		return err
	}

	var problems []string
	for _, route := range []string{"users", fmt.Sprintf("users/%d", me.ID), fmt.Sprintf("posts/%d", p.ID), "posts?per_page=5"} {
		u := SiteURL(m, w.host, "wp-json/wp/v2/"+route)
		r, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: u})
		if err != nil {
			return err
		}
		// Listing users may be refused to visitors altogether; posts not.
		if r.Status != http.StatusOK && !(strings.HasPrefix(route, "users") && (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden)) {
			problems = append(problems, fmt.Sprintf("GET %s as a visitor: %s, expected 200", u, r))
			continue
		}
		body := []byte(html.UnescapeString(strings.ReplaceAll(string(r.Body), `\/`, `/`)))
		if bytes.Contains(bytes.ToLower(body), []byte(strings.ToLower(me.Email))) {
			problems = append(problems, fmt.Sprintf("GET %s as a visitor shows the admin's e-mail address", u))
		}
		if found := emailsIn(body); len(found) > 0 {
			problems = append(problems, fmt.Sprintf("GET %s as a visitor shows e-mail addresses %q", u, found))
		}
		if bytes.Contains(body, []byte("gravatar.com")) || bytes.Contains(body, []byte(`"avatar_urls"`)) {
			problems = append(problems, fmt.Sprintf("GET %s as a visitor shows Gravatar addresses (a hash of the author's e-mail)", u))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	m.Note("no e-mail address nor Gravatar in users, users/%d, posts/%d and posts", me.ID, p.ID)
	return nil
}
