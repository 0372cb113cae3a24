package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what `rag version` prints: the module version and the
// commit it was built from, as the Go toolchain records them.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	// Modified is nil when the build recorded no VCS state (go build
	// -buildvcs=false, or not built from a checkout): unknown, not false.
	Modified  *bool  `json:"modified"`
	GoVersion string `json:"go_version,omitempty"`
}

// String is the one-line form: "v1.2.3 (abc1234def56, 2026-01-02T03:04:05Z, modified)".
func (v versionInfo) String() string {
	var extra []string
	if v.Revision != "" {
		extra = append(extra, shortRevision(v.Revision))
	}
	if v.Time != "" {
		extra = append(extra, v.Time)
	}
	if v.Modified != nil && *v.Modified {
		extra = append(extra, "modified")
	}
	if len(extra) == 0 {
		return v.Version
	}
	return fmt.Sprintf("%s (%s)", v.Version, strings.Join(extra, ", "))
}

func shortRevision(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// versionInfo reads the build info; a version set with -ldflags wins over
// the module's, which is "(devel)" in a plain `go build`.
func (a *App) versionInfo() versionInfo {
	read := a.BuildInfo
	if read == nil {
		read = debug.ReadBuildInfo
	}
	v := versionInfo{Version: "(devel)"}
	if bi, ok := read(); ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		v.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				modified := s.Value == "true"
				v.Modified = &modified
			}
		}
	}
	if a.Version != "" {
		v.Version = a.Version
	}
	return v
}

func newVersionCmd(a *App, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rag's version and the commit it was built from",
		Long: `Version prints the module version of rag and, when it was built from a git
checkout, the commit, its time and whether the checkout had uncommitted changes.
rag --version prints the same line. With --json, "modified" is null when the
build recorded no version control state (built outside a checkout or with
-buildvcs=false): unknown, not false.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.versionInfo()
			if g.JSON {
				return writeJSON(a, v)
			}
			_, err := fmt.Fprintf(a.IO.Out, "rag %s\n", v)
			return err
		},
	}
}
