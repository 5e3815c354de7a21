package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// Site is what service files are rendered from: the spec's public facts.
type Site struct {
	Domain      string            `json:"domain"`
	Hostname    string            `json:"hostname"`
	FQDN        string            `json:"fqdn"`
	Address     string            `json:"address"`
	Address6    string            `json:"address6"`
	Nameservers []string          `json:"nameservers"`
	Records     []Record          `json:"records"`
	Services    []string          `json:"services"`
	Names       map[string]string `json:"names"`
	AdminKeys   []string          `json:"-"`
	// Postmaster is where postmaster@ and abuse@ go (the spec's
	// mail.postmaster).
	Postmaster string `json:"postmaster"`
}

// Record is an extra zone record from the spec.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	TTL   int    `json:"ttl"`
}

// PublicTCPPorts are where the public writes (mail, the web): the
// firewall keeps them shut on a swap's candidate until the deployer
// commits it, and the deployer's checks reach them through SSH meanwhile.
var PublicTCPPorts = []int{25, 80, 443}

// PublicPorts lists PublicTCPPorts for nftables: "25, 80, 443".
func (Site) PublicPorts() string {
	s := make([]string, len(PublicTCPPorts))
	for i, p := range PublicTCPPorts {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// Has tells whether the site runs a service; templates use it.
func (s Site) Has(service string) bool { return slices.Contains(s.Services, service) }

// WebNames are the host names served over HTTPS, by service: the
// certificate covers all of them.
func (s Site) WebNames() []string {
	var names []string
	for _, key := range []string{"apex", "www", "wiki", "lists", "files", "dav"} {
		if n, ok := s.Names[key]; ok {
			names = append(names, n)
		}
	}
	return names
}

// NewSite derives the names of each service from the domain.
func NewSite(domain, hostname string, services []string) Site {
	s := Site{Domain: domain, Hostname: hostname, FQDN: hostname + "." + domain, Services: services,
		Names: map[string]string{"ns": "ns1." + domain}}
	sub := map[string][]string{"www": {"apex", ""}, "wiki": {"wiki", "wiki."}, "lists": {"lists", "listes."},
		"files": {"files", "files."}, "dav": {"dav", "dav."}}
	for _, svc := range services {
		if n, ok := sub[svc]; ok {
			s.Names[n[0]] = n[1] + domain
		}
	}
	if s.Has("www") {
		s.Names["www"] = "www." + domain
	}
	return s
}

// Install copies each service's rootfs folder into the root tree,
// rendering .tmpl files, and writes /etc/ostal/site.json. It returns the
// number of files written.
func Install(provisionDir, root string, site Site, services []Service) (int, error) {
	n := 0
	for _, svc := range services {
		src := filepath.Join(provisionDir, svc.Name, "rootfs")
		if _, err := os.Stat(src); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(root, rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o755)
			case d.Type()&fs.ModeSymlink != 0:
				// A link shares a file between folders (base/ and
				// ssh/): the image gets the file it points to.
				if info, err = os.Stat(p); err != nil {
					return err
				}
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(dst, ".tmpl") {
				dst = strings.TrimSuffix(dst, ".tmpl")
				if data, err = render(p, data, site); err != nil {
					return err
				}
			}
			n++
			return writeFile(dst, data, info.Mode().Perm())
		})
		if err != nil {
			return n, fmt.Errorf("install service %s from %s: %w", svc.Name, src, err)
		}
	}
	js, err := json.MarshalIndent(site, "", "  ")
	if err != nil {
		return n, err
	}
	return n + 1, writeFile(filepath.Join(root, "etc/ostal/site.json"), append(js, '\n'), 0o644)
}

func render(name string, text []byte, site Site) ([]byte, error) {
	t, err := template.New(filepath.Base(name)).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, site); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeFile replaces a file (a package's own, or a symlink) with data.
func writeFile(dst string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	if err := os.WriteFile(dst, data, perm); err != nil {
		return err
	}
	// WriteFile's mode passes through the umask; the folder's is meant.
	return os.Chmod(dst, perm)
}
