use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sift::cli::Cli::parse();
    // Die quietly on a closed pipe (`sift cat raw | head`), as Unix tools do;
    // but not where sockets are written (a cluster), whose closed
    // connections are errors to handle, not the end of the process.
    if !cli.command.uses_network() {
        // SAFETY: called before any other thread exists (parsing spawns none).
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match sift::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            // Libraries often repeat a cause's text in its parent's; say each once.
            let mut said = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if said.contains(&text) {
                    continue;
                }
                eprintln!("  caused by: {text}");
                said.push_str(&text);
            }
            if let Some(hint) = sift::cli::hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
