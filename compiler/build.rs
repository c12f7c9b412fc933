//! Generates the IoT SQL parser from `src/syntax/grammar.lalrpop`.

fn main() {
    #[expect(clippy::expect_used, reason = "a broken grammar must stop the build")]
    lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .emit_rerun_directives(true)
        .process()
        .expect("the IoT SQL grammar must generate");
}
