//! The `dynzone` command: `serve`, `import`, `export` (see `dynzone --help`).
#![deny(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
