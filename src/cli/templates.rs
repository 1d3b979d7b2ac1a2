//! `connections templates list`: the service templates built into this binary (`catalogue`).

use clap::Subcommand;

use crate::error::AppError;

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List the templates: id, version, authentication type, category and name.
    List {
        /// Print the whole catalogue as JSON (each template with the service it pre-fills).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a templates command and returns what to print.
pub fn run_templates(command: TemplatesCommand) -> Result<String, AppError> {
    let TemplatesCommand::List { json } = command;
    let all = crate::catalogue::all();
    if json {
        return serde_json::to_string_pretty(all).map_err(|e| AppError::Internal(e.to_string()));
    }
    let width = all.iter().map(|t| t.id.len()).max().unwrap_or(0);
    Ok(all
        .iter()
        .map(|t| {
            format!("{:width$}  v{}  {:20}  {:20}  {}", t.id, t.version, t.auth_label(), t.category, t.name)
        })
        .collect::<Vec<_>>()
        .join("\n"))
}
