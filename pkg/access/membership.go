package access

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Membership maps a user NAME to the NAMEs of its groups (sorted, without
// duplicates). It is read at query time, so a change to the membership
// file takes effect on the next query.
type Membership map[string][]string

// ParseMembership reads a membership file: a YAML mapping of each user
// NAME to a list of group NAMEs, or to one group NAME:
//
//	alice: [eng, support]
//	bob: support
//	carol: []
//
// It is strict: any other shape, a bad or repeated name, or a second YAML
// document is an error naming the user (a *LineError; YAML that does not
// parse gives the YAML parser's error, which has its line). An empty file
// is an empty membership.
func ParseMembership(r io.Reader) (Membership, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if m, ok := parseFlat(data); ok {
		return m, nil
	}
	return parseYAML(bytes.NewReader(data))
}

// parseYAML is ParseMembership by the YAML decoder, for what parseFlat
// does not take.
func parseYAML(r io.Reader) (Membership, error) {
	dec := yaml.NewDecoder(r)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Membership{}, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, lineErr(extra.Line, "a second YAML document; want one mapping of user names to groups")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return Membership{}, nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return Membership{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, lineErr(root.Line, "want a mapping of user names to groups (alice: [eng, support]), not %s", kind(root))
	}
	m := make(Membership, len(root.Content)/2)
	seen := make(map[string]int, len(root.Content)/2)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return nil, lineErr(k.Line, "want a user name as the key, not %s", kind(k))
		}
		user := k.Value
		if reason := nameReason(user, UserPrefix); reason != "" {
			return nil, lineErr(k.Line, "user %q: %s", user, reason)
		}
		if first, dup := seen[user]; dup {
			return nil, lineErr(k.Line, "user %q: listed again (first on line %d)", user, first)
		}
		seen[user] = k.Line
		groups, err := groupsOf(v)
		if err != nil {
			return nil, lineErr(v.Line, "user %q: %v", user, err)
		}
		m[user] = groups
	}
	return m, nil
}

// groupsOf reads one user's value: one group name or a list of them.
func groupsOf(v *yaml.Node) ([]string, error) {
	var names []string
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		names = []string{v.Value}
	case v.Kind == yaml.SequenceNode:
		for _, e := range v.Content {
			e = deref(e)
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return nil, fmt.Errorf("want group names in the list, not %s", kind(e))
			}
			names = append(names, e.Value)
		}
	default:
		return nil, fmt.Errorf("want a group name or a list of group names ([] for none), not %s", kind(v))
	}
	for _, g := range names {
		if reason := nameReason(g, GroupPrefix); reason != "" {
			return nil, fmt.Errorf("group %q: %s", g, reason)
		}
	}
	groups := Normalize(names)
	if groups == nil {
		groups = []string{}
	}
	return groups, nil
}

// nameReason is checkName with a hint for the common slip of writing the
// whole principal where a bare NAME belongs.
func nameReason(name, prefix string) string {
	if bare, ok := strings.CutPrefix(name, prefix); ok && checkName(bare) == "" {
		return fmt.Sprintf("write the bare NAME %q, without %q", bare, prefix)
	}
	if prefix == GroupPrefix && strings.Contains(name, ",") {
		return "\",\" in the name; list several groups as [a, b]"
	}
	return checkName(name)
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// kind names a YAML node for an error.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// Principals returns who as is: itself, the groups of a user:NAME as
// group:G, and public; sorted, without duplicates. A user the membership
// does not list is itself and public; "public" is [public]; a group:NAME is
// [group:NAME, public]. The error (a *PrincipalError) is for a bad as.
func (m Membership) Principals(as string) ([]string, error) {
	if err := CheckPrincipal(as); err != nil {
		return nil, err
	}
	ps := []string{as, Public}
	if user, ok := strings.CutPrefix(as, UserPrefix); ok {
		for _, g := range m[user] {
			ps = append(ps, GroupPrefix+g)
		}
	}
	return Normalize(ps), nil
}
