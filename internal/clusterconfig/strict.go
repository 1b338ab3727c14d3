package clusterconfig

import (
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

var yamlNodeType = reflect.TypeOf(yaml.Node{})

// checked is a node already walked as a type: an anchored node is checked once,
// however many aliases point at it, so a document of nested aliases ("billion
// laughs") costs its size, not its expansion.
type checked struct {
	n *yaml.Node
	t reflect.Type
}

// checkKnownFields walks the document beside the Go type it decodes into and reports
// every mapping key the type has no field for, with its path, line and the keys
// that are allowed there. yaml's own KnownFields reports Go type names instead.
func checkKnownFields(l *errorList, n *yaml.Node, t reflect.Type, p fieldPath) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if l.checked == nil {
		l.checked = map[checked]bool{}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || l.checked[checked{n.Alias, t}] {
			return
		}
		n = n.Alias
	}
	l.checked[checked{n, t}] = true
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkKnownFields(l, c, t, p)
		}
		return
	}
	if t == yamlNodeType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				l.errs = append(l.errs, &FieldError{File: l.file, Line: k.Line, Field: p.key(k.Value).String(),
					Msg: "unknown field (known fields here: " + strings.Join(sortedKeys(fields), ", ") + ")"})
				continue
			}
			checkKnownFields(l, v, ft, p.key(k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKnownFields(l, n.Content[i+1], t.Elem(), p.key(n.Content[i].Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKnownFields(l, c, t.Elem(), p.index(i))
		}
	}
}

// yamlFields maps the yaml keys of struct t (inline structs flattened) to field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
