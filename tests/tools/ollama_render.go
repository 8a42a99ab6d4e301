// Renders an ollama TEMPLATE the way ollama's server does for a chat request: Go's text/template
// over {System, Messages, Response}, where System joins the system messages and Messages has
// consecutive turns of one role merged with a blank line. Used by tests/test_export_modelfile.py
// to compare a generated Modelfile with LLaMA-Factory's rendering of the same conversation.
//
// stdin: {"template": "...", "messages": [{"role": "user", "content": "..."}, ...]}
// stdout: the rendered prompt.
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type request struct {
	Template string    `json:"template"`
	Messages []Message `json:"messages"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		panic(err)
	}
	var system []string
	var collated []*Message
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if n := len(collated); n > 0 && collated[n-1].Role == m.Role {
			collated[n-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, m)
		}
	}
	tmpl := template.Must(template.New("modelfile").Parse(req.Template))
	data := map[string]any{"System": strings.Join(system, "\n\n"), "Messages": collated, "Response": ""}
	if err := tmpl.Execute(os.Stdout, data); err != nil {
		panic(err)
	}
}
