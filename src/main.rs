//! `kilat serve [--no-migrate]` · `kilat migrate` ·
//! `kilat admin create --email E --password P [--full-name N]` ·
//! `kilat simulate [flags]`

use std::process::ExitCode;

use kilat::app::{Application, Dependencies, create_admin};
use kilat::config::Settings;
use kilat::{db, telemetry};

const USAGE: &str = "usage:
  kilat serve [--no-migrate]      run migrations (unless told not to) and serve
  kilat migrate                   run pending migrations and exit
  kilat admin create --email E --password P [--full-name N]
  kilat simulate [--url U] [--runners N] [--owners M] [--duration S] [--ping-hz H]
                 [--bookings-per-sec R] [--box south,west,north,east]
                                  drive a running cluster like a city and report latencies
settings: config/base.toml + config/$KILAT_ENVIRONMENT.toml + KILAT__SECTION__KEY";

enum Command {
    Serve { migrate: bool },
    Migrate,
    CreateAdmin { email: String, password: String, full_name: String },
    Simulate(kilat::simulate::Args),
}

fn parse(args: &[String]) -> Result<Command, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => Ok(Command::Serve { migrate: true }),
        ["serve", "--no-migrate"] => Ok(Command::Serve { migrate: false }),
        ["migrate"] => Ok(Command::Migrate),
        ["admin", "create", rest @ ..] => {
            let (mut email, mut password, mut full_name) = (None, None, None);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?.to_string();
                match *flag {
                    "--email" => email = Some(value),
                    "--password" => password = Some(value),
                    "--full-name" => full_name = Some(value),
                    other => return Err(format!("unknown flag {other}")),
                }
            }
            Ok(Command::CreateAdmin {
                email: email.ok_or("--email is required")?,
                password: password.ok_or("--password is required")?,
                full_name: full_name.unwrap_or_else(|| "Administrator".to_owned()),
            })
        }
        ["simulate", rest @ ..] => kilat::simulate::Args::parse(rest).map(Command::Simulate),
        ["help" | "--help" | "-h"] => Err(String::new()),
        other => Err(format!("unknown command: {}", other.join(" "))),
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("kilat: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let command = match command {
        Command::Simulate(args) => {
            // a client of a running cluster: no settings, no database
            kilat::simulate::run(args).await;
            return ExitCode::SUCCESS;
        }
        other => other,
    };
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("kilat: {err}");
            return ExitCode::from(78);
        }
    };
    telemetry::init(&settings.log);
    let outcome = match command {
        Command::Serve { migrate } => {
            settings.database.migrate_on_start &= migrate;
            match Application::build(settings, Dependencies::default()).await {
                Ok(app) => app.run_until_stopped().await.map_err(Into::into),
                Err(err) => Err(err),
            }
        }
        Command::Migrate => db::run_migrations(&settings.database.url).await.map(|applied| {
            println!("{} migration(s) applied", applied.len());
        }),
        Command::CreateAdmin { email, password, full_name } => {
            create_admin(&settings, &email, &password, &full_name).await.map(|()| println!("admin {email} created"))
        }
        Command::Simulate(_) => Ok(()),
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
