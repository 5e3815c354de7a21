package builders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/ostal/ostal/images"
)

// Manifest describes one built image; it is written beside the qcow2 and
// printed by `ostal build --json`.
type Manifest struct {
	Name string `json:"name"`
	// Domain and Services tell a boot test or a deployer what the image
	// serves, and so which checks and forwards it needs.
	Domain   string   `json:"domain,omitempty"`
	Services []string `json:"services,omitempty"`
	Image    FileInfo `json:"image"`
	Spec     FileInfo `json:"spec"`
	Lock     struct {
		FileInfo
		ReleaseDate time.Time `json:"release_date"`
	} `json:"lock"`
	Files FileInfo `json:"files"`
	Ostal struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	} `json:"ostal"`
	Packages []PackageVersion `json:"packages"`
	Steps    []StepTiming     `json:"steps"`
	BuiltAt  time.Time        `json:"built_at"`
}

// FileInfo names a file by path, digest and size.
type FileInfo struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// PackageVersion is one installed package.
type PackageVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type stepWriteManifest struct {
	Config *Config
}

func manifestPath(outputDir, name string) string {
	return filepath.Join(outputDir, name+".manifest.json")
}

// ReadManifest reads the manifest written beside an image
// (build/utzqanil.qcow2 -> build/utzqanil.manifest.json).
func ReadManifest(image string) (*Manifest, error) {
	path := strings.TrimSuffix(image, ".qcow2") + ".manifest.json"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the image's manifest: %w (ostal build writes it beside the image)", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

func (s *stepWriteManifest) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	spec, err := keySpec.get(state)
	if err != nil {
		return halt(state, err)
	}
	lock, err := keyLock.get(state)
	if err != nil {
		return halt(state, err)
	}
	image, err := keyImage.get(state)
	if err != nil {
		return halt(state, err)
	}
	listing, err := keyTreeList.get(state)
	if err != nil {
		return halt(state, err)
	}
	m := &Manifest{Name: spec.Name, Domain: spec.Domain, Services: spec.Services, BuiltAt: time.Now().UTC()}
	filesOut := filepath.Join(s.Config.OutputDir, spec.Name+".files.txt")
	if err := copyFile(listing, filesOut, 0o644); err != nil {
		return halt(state, fmt.Errorf("write file listing: %w", err))
	}
	for _, f := range []struct {
		dst  *FileInfo
		path string
	}{{&m.Image, image}, {&m.Spec, spec.Path}, {&m.Lock.FileInfo, lock.Path}, {&m.Files, filesOut}} {
		if *f.dst, err = describeFile(f.path); err != nil {
			return halt(state, err)
		}
	}
	m.Lock.ReleaseDate = lock.ReleaseDate
	m.Ostal.Version, m.Ostal.Commit = s.Config.Version, s.Config.Commit
	for _, p := range lock.Sets[images.SetImage] {
		m.Packages = append(m.Packages, PackageVersion{p.Name, p.Version})
	}
	if t, err := keyTimings.get(state); err == nil {
		m.Steps = t.list()
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return halt(state, fmt.Errorf("encode manifest: %w", err))
	}
	if err := os.WriteFile(manifestPath(s.Config.OutputDir, spec.Name), append(b, '\n'), 0o644); err != nil {
		return halt(state, fmt.Errorf("write manifest: %w", err))
	}
	keyManifest.put(state, m)
	say(state, "sha256 %s", m.Image.SHA256)
	return multistep.ActionContinue
}

func (s *stepWriteManifest) Cleanup(multistep.StateBag) {}

func describeFile(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, fmt.Errorf("checksum %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("checksum %s: %w", path, err)
	}
	return FileInfo{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
