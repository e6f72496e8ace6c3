//! The fenced blocks of a lab file, as the runner reads them (the
//! conventions of the workshop's "Blocks the CI runner executes"):
//! `console` blocks hold `$ ` commands, each followed by its expected output
//! excerpt and maybe `[exit N]`; a block whose info string has `file=PATH`
//! is a file the learner writes. Every other block is prose.

/// One `$ ` command of a `console` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The line of the `$ ` in the lab file (1-based).
    pub line: usize,
    /// The command, continuation lines joined by newlines (bash reads the
    /// `\` at a line's end as a continuation itself).
    pub text: String,
    /// The non-blank excerpt lines, in order.
    pub excerpt: Vec<String>,
    /// `[exit N]`, or 0.
    pub exit: i32,
}

/// What a fenced block asks of the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Console {
        commands: Vec<Command>,
        background: bool,
        skip: bool,
        /// `timeout=SECS`: the bound of each command of the block.
        timeout_secs: Option<u64>,
    },
    /// `file=PATH`: written into the working directory.
    File { path: String, content: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The line of the opening fence (1-based).
    pub line: usize,
    /// `catch-up`: the block belongs to the lab's "Catch up" section.
    pub catch_up: bool,
    /// `cleanup`: a step that takes down what the lab started outside the
    /// runner's reach (a compose stack). It runs in its place, and again
    /// after a failed step and after the Catch up, so no lab leaves
    /// containers or ports behind for the next one.
    pub cleanup: bool,
    pub kind: BlockKind,
}

/// The blocks the runner acts on, in file order. A malformed block (an
/// unknown word after `console`, a fence never closed, an excerpt before
/// any command) is an error naming its line: a typo must not silently run
/// nothing.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((indent, fence, info)) = opening_fence(lines[i]) else {
            i += 1;
            continue;
        };
        let start = i + 1;
        let close = (i + 1..lines.len())
            .find(|&j| closes(lines[j], &fence))
            .ok_or_else(|| format!("line {start}: the block opened here is never closed"))?;
        // Content lines lose the fence's indentation (a block inside a list item).
        let body: Vec<(usize, &str)> = (i + 1..close)
            .map(|j| (j + 1, strip_indent(lines[j], indent)))
            .collect();
        if let Some(block) = block(start, &info, &body)? {
            blocks.push(block);
        }
        i = close + 1;
    }
    Ok(blocks)
}

/// `(indent, fence, info string)` of an opening fence line.
fn opening_fence(line: &str) -> Option<(usize, String, String)> {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let fence: String = trimmed.chars().take_while(|c| *c == ch).collect();
    (fence.len() >= 3).then(|| {
        (
            indent,
            fence.clone(),
            trimmed[fence.len()..].trim().to_owned(),
        )
    })
}

fn closes(line: &str, fence: &str) -> bool {
    let trimmed = line.trim();
    let ch = fence.chars().next().unwrap_or('`');
    trimmed.len() >= fence.len() && trimmed.chars().all(|c| c == ch)
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

fn block(line: usize, info: &str, body: &[(usize, &str)]) -> Result<Option<Block>, String> {
    let words: Vec<&str> = info.split_whitespace().collect();
    let catch_up = words.contains(&"catch-up");
    let cleanup = words.contains(&"cleanup");
    if let Some(path) = words.iter().find_map(|w| w.strip_prefix("file=")) {
        let content: String = body.iter().map(|(_, l)| format!("{l}\n")).collect();
        return Ok(Some(Block {
            line,
            catch_up,
            cleanup,
            kind: BlockKind::File {
                path: path.to_owned(),
                content,
            },
        }));
    }
    if words.first() != Some(&"console") {
        return Ok(None);
    }
    let (mut background, mut skip, mut timeout_secs) = (false, false, None);
    for word in &words[1..] {
        match *word {
            "background" => background = true,
            "catch-up" | "cleanup" => {}
            "ci=skip" => skip = true,
            _ => match word.strip_prefix("timeout=").map(str::parse::<u64>) {
                Some(Ok(secs)) if secs > 0 => timeout_secs = Some(secs),
                _ => {
                    return Err(format!(
                        "line {line}: `{word}` after `console`: expected background, catch-up, \
                         cleanup, ci=skip or timeout=SECS"
                    ));
                }
            },
        }
    }
    Ok(Some(Block {
        line,
        catch_up,
        cleanup,
        kind: BlockKind::Console {
            commands: commands(body)?,
            background,
            skip,
            timeout_secs,
        },
    }))
}

/// The `$ ` commands of a console block's body, each with its excerpt.
fn commands(body: &[(usize, &str)]) -> Result<Vec<Command>, String> {
    let mut commands: Vec<Command> = Vec::new();
    let mut continuing = false;
    for &(line, text) in body {
        if continuing {
            let command = commands.last_mut().expect("continuing a command");
            command.text.push('\n');
            command.text.push_str(text);
            continuing = text.ends_with('\\');
        } else if let Some(command) = text.strip_prefix("$ ") {
            commands.push(Command {
                line,
                text: command.to_owned(),
                excerpt: Vec::new(),
                exit: 0,
            });
            continuing = command.ends_with('\\');
        } else if !text.trim().is_empty() {
            let Some(command) = commands.last_mut() else {
                return Err(format!("line {line}: output before any `$ ` command"));
            };
            match text
                .trim()
                .strip_prefix("[exit ")
                .and_then(|r| r.strip_suffix(']'))
            {
                Some(code) => {
                    command.exit = code
                        .parse()
                        .map_err(|_| format!("line {line}: `{text}` is not `[exit N]`"))?;
                }
                None => command.excerpt.push(text.to_owned()),
            }
        }
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_excerpts_and_exit_codes() {
        let text = "# Lab\n\n```console timeout=5\n$ echo a \\\n  b\na b\n\n$ false\n[exit 1]\n```\n\n```yaml file=x/y.yaml\nk: v\n```\n\n```text\n$ not run\n```\n";
        let found = blocks(text).unwrap();
        assert_eq!(found.len(), 2);
        let BlockKind::Console {
            commands,
            timeout_secs,
            ..
        } = &found[0].kind
        else {
            panic!("{found:?}")
        };
        assert_eq!(found[0].line, 3);
        assert_eq!(*timeout_secs, Some(5));
        assert_eq!(commands[0].text, "echo a \\\n  b");
        assert_eq!(commands[0].excerpt, ["a b"]);
        assert_eq!((commands[1].line, commands[1].exit), (8, 1));
        assert_eq!(
            found[1].kind,
            BlockKind::File {
                path: "x/y.yaml".into(),
                content: "k: v\n".into()
            }
        );
    }

    #[test]
    fn typos_and_unclosed_blocks_name_their_line() {
        assert!(
            blocks("```console backgroud\n```\n")
                .unwrap_err()
                .contains("line 1: `backgroud`")
        );
        assert!(
            blocks("\n```console\n$ x\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            blocks("```console\nout\n```\n")
                .unwrap_err()
                .contains("line 2: output before")
        );
    }
}
