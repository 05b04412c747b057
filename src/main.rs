//! The `kilat` command line: `serve`, `migrate`, `admin create`, and
//! `simulate` (the city simulator, a separate program of the tools crate).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kilat::app::{Application, Dependencies, create_admin};
use kilat::config::Settings;
use kilat::{db, telemetry};

/// Kilat Dispatch: the real-time dispatch server behind Kilat.
#[derive(Debug, Parser)]
#[command(
    name = "kilat",
    version,
    about,
    after_help = "Settings: config/base.toml + config/$KILAT_ENVIRONMENT.toml + KILAT__SECTION__KEY variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run pending migrations (unless told not to) and serve (the default).
    Serve {
        /// start without running migrations (another node ran them)
        #[arg(long)]
        no_migrate: bool,
    },
    /// Run pending migrations and exit.
    Migrate,
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Drive a running cluster like a city and report latencies
    /// (runs `kilat-simulate`, built by `cargo build --release -p kilat-tools`).
    #[command(after_help = "Flags (see `kilat-simulate --help`): --url U, --runners N, --owners M, --duration S, \
        --ping-hz H, --bookings-per-sec R, --box south,west,north,east, --cities N, --nodes URL,..., \
        --redis host:port,..., --accounts NAME")]
    Simulate {
        /// passed to kilat-simulate unchanged
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "FLAGS")]
        args: Vec<OsString>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "Administrator")]
        full_name: String,
    },
}

/// `kilat-simulate` beside this executable (as cargo builds both), else on
/// the `PATH`; its exit status becomes ours.
fn simulate(args: Vec<OsString>) -> ExitCode {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("kilat-simulate")));
    let program = beside.filter(|p| p.is_file()).map(OsString::from).unwrap_or_else(|| "kilat-simulate".into());
    match std::process::Command::new(&program).args(args).status() {
        Ok(status) => status.code().and_then(|c| u8::try_from(c).ok()).map(ExitCode::from).unwrap_or(ExitCode::FAILURE),
        Err(err) => {
            eprintln!("kilat: cannot run kilat-simulate ({err}); build it with `cargo build --release -p kilat-tools`");
            ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve { no_migrate: false });
    if let Command::Simulate { args } = command {
        // a client of a running cluster: no settings, no database
        return simulate(args);
    }
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("kilat: {err}");
            return ExitCode::from(78);
        }
    };
    telemetry::init(&settings.log);
    let outcome = match command {
        Command::Serve { no_migrate } => {
            settings.database.migrate_on_start &= !no_migrate;
            match Application::build(settings, Dependencies::default()).await {
                Ok(app) => app.run_until_stopped().await.map_err(Into::into),
                Err(err) => Err(err),
            }
        }
        Command::Migrate => db::run_migrations(&settings.database.url).await.map(|applied| {
            println!("{} migration(s) applied", applied.len());
        }),
        Command::Admin { command: AdminCommand::Create { email, password, full_name } } => {
            create_admin(&settings, &email, &password, &full_name).await.map(|()| println!("admin {email} created"))
        }
        Command::Simulate { .. } => Ok(()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "kilat stopped with an error");
            eprintln!("kilat: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kilat").chain(words.iter().copied()))
    }

    #[test]
    fn commands_parse_and_help_is_not_an_error() {
        assert!(parse(&[]).unwrap().command.is_none());
        assert!(matches!(
            parse(&["serve", "--no-migrate"]).unwrap().command,
            Some(Command::Serve { no_migrate: true })
        ));
        let Some(Command::Admin { command: AdminCommand::Create { full_name, .. } }) =
            parse(&["admin", "create", "--email", "a@b.c", "--password", "pw"]).unwrap().command
        else {
            panic!("admin create")
        };
        assert_eq!(full_name, "Administrator");
        let Some(Command::Simulate { args }) = parse(&["simulate", "--runners", "5"]).unwrap().command else {
            panic!("simulate")
        };
        assert_eq!(args, ["--runners", "5"]);
        for help in [&["--help"][..], &["--version"], &["simulate", "--help"], &["admin", "create", "--help"]] {
            let kind = parse(help).unwrap_err().kind();
            assert!(matches!(kind, clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion));
        }
        assert_eq!(parse(&["admin", "create", "--email"]).unwrap_err().kind(), clap::error::ErrorKind::InvalidValue);
        assert_eq!(parse(&["nonsense"]).unwrap_err().kind(), clap::error::ErrorKind::InvalidSubcommand);
    }
}
