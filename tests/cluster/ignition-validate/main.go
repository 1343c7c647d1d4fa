// ignition-validate checks the Ignition config of MachineConfigs with
// Ignition's own parser, for the config's own spec version (v3_2.Parse for
// 3.2.0, and so on), as the Machine Config Operator's render controller parses
// it. Input: MachineConfigs (or Lists of them) as JSON or YAML, from the files
// named on the command line or from stdin. Output: one JSON line per object,
// with every report entry (errors, warnings, infos). Exit status: 0 when no
// object has an error, 1 when one has, 2 when the input cannot be read.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/coreos/ignition/v2/config/util"
	v3_0 "github.com/coreos/ignition/v2/config/v3_0"
	v3_1 "github.com/coreos/ignition/v2/config/v3_1"
	v3_2 "github.com/coreos/ignition/v2/config/v3_2"
	v3_3 "github.com/coreos/ignition/v2/config/v3_3"
	v3_4 "github.com/coreos/ignition/v2/config/v3_4"
	v3_5 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"
	"gopkg.in/yaml.v3"
)

// The stable spec versions of Ignition v2.24.0; 3.6.0 is still experimental there.
var parsers = map[string]func([]byte) (report.Report, error){
	"3.0.0": func(b []byte) (report.Report, error) { _, r, err := v3_0.Parse(b); return r, err },
	"3.1.0": func(b []byte) (report.Report, error) { _, r, err := v3_1.Parse(b); return r, err },
	"3.2.0": func(b []byte) (report.Report, error) { _, r, err := v3_2.Parse(b); return r, err },
	"3.3.0": func(b []byte) (report.Report, error) { _, r, err := v3_3.Parse(b); return r, err },
	"3.4.0": func(b []byte) (report.Report, error) { _, r, err := v3_4.Parse(b); return r, err },
	"3.5.0": func(b []byte) (report.Report, error) { _, r, err := v3_5.Parse(b); return r, err },
}

type entry struct {
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Line    int64  `json:"line,omitempty"`
	Column  int64  `json:"column,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

type result struct {
	Source   string  `json:"source"`
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`
	Version  string  `json:"ignitionVersion,omitempty"`
	Valid    bool    `json:"valid"`
	Errors   []entry `json:"errors"`
	Warnings []entry `json:"warnings"`
	Infos    []entry `json:"infos"`
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Config json.RawMessage `json:"config"`
	} `json:"spec"`
	Items []json.RawMessage `json:"items"`
}

func newResult(source, kind, name string) result {
	return result{Source: source, Kind: kind, Name: name, Errors: []entry{}, Warnings: []entry{}, Infos: []entry{}}
}

func add(r *result, kind, path string, line, col int64, msg string) {
	e := entry{Kind: kind, Path: path, Line: line, Column: col, Message: msg}
	e.Text = kind
	if path != "" {
		e.Text += " at " + path
	}
	if line != 0 {
		e.Text += fmt.Sprintf(", line %d col %d", line, col)
	}
	e.Text += ": " + msg
	switch kind {
	case "error":
		r.Errors = append(r.Errors, e)
	case "warning":
		r.Warnings = append(r.Warnings, e)
	default:
		r.Infos = append(r.Infos, e)
	}
}

func validate(source string, raw json.RawMessage) []result {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		r := newResult(source, "", "")
		add(&r, "error", "", 0, 0, "not an object: "+err.Error())
		return []result{r}
	}
	if o.Items != nil {
		var out []result
		for _, item := range o.Items {
			out = append(out, validate(source, item)...)
		}
		return out
	}
	r := newResult(source, o.Kind, o.Metadata.Name)
	cfg := bytes.TrimSpace(o.Spec.Config)
	if o.Kind != "MachineConfig" {
		add(&r, "error", "", 0, 0, fmt.Sprintf("kind %q is not MachineConfig", o.Kind))
	} else if len(cfg) == 0 || bytes.Equal(cfg, []byte("null")) {
		// The MCO accepts a MachineConfig without spec.config (extensions only): nothing to parse.
		r.Valid = true
	} else if v, rpt, err := util.GetConfigVersion(cfg); err != nil {
		entries(&r, rpt)
		add(&r, "error", "$.ignition.version", 0, 0, err.Error())
	} else if parse, ok := parsers[v.String()]; !ok {
		add(&r, "error", "$.ignition.version", 0, 0, fmt.Sprintf("unsupported config version %s", v.String()))
	} else {
		r.Version = v.String()
		rpt, err := parse(cfg)
		entries(&r, rpt)
		if err != nil && len(r.Errors) == 0 {
			add(&r, "error", "", 0, 0, err.Error())
		}
	}
	r.Valid = len(r.Errors) == 0
	return []result{r}
}

func entries(r *result, rpt report.Report) {
	for _, e := range rpt.Entries {
		line, col := e.Marker.Start()
		path := ""
		if e.Context.Len() != 0 {
			path = e.Context.String()
		}
		add(r, e.Kind.String(), path, line, col, e.Message)
	}
}

// documents splits a JSON stream (one or more values) or a YAML stream (--- separated) into JSON values.
func documents(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("no input")
	}
	var out []json.RawMessage
	if trimmed[0] == '{' || trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for {
			var v json.RawMessage
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
			if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
				var list []json.RawMessage
				if err := json.Unmarshal(v, &list); err != nil {
					return nil, err
				}
				out = append(out, list...)
			} else {
				out = append(out, v)
			}
		}
		return out, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func main() {
	sources := os.Args[1:]
	if len(sources) == 0 {
		sources = []string{"-"}
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	status := 0
	for _, src := range sources {
		var data []byte
		var err error
		if src == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(src)
		}
		var docs []json.RawMessage
		if err == nil {
			docs, err = documents(data)
		}
		if err != nil {
			w.Flush()
			fmt.Fprintf(os.Stderr, "ignition-validate: %s: %v\n", src, err)
			os.Exit(2)
		}
		for _, doc := range docs {
			for _, r := range validate(src, doc) {
				if !r.Valid {
					status = 1
				}
				if err := enc.Encode(r); err != nil {
					fmt.Fprintf(os.Stderr, "ignition-validate: %v\n", err)
					os.Exit(2)
				}
			}
		}
	}
	w.Flush()
	os.Exit(status)
}
