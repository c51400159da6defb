use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`sift cat raw | head`), as Unix tools do.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = sift::cli::Cli::parse();
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
