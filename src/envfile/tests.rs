//! Compose's own cases (compose-go's tests and fixtures, the docs) and mlenv's, as tables.

use super::*;
use std::io::Write;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// An input and the variables it gives, in order, or a part of its error.
type Case = (
    &'static str,
    Result<&'static [(&'static str, &'static str)], &'static str>,
);

fn check(cases: &[Case], lookup: fn(&str) -> Option<String>) {
    for (input, want) in cases {
        let got = parse(input, lookup);
        match (want, &got) {
            (Ok(want), Ok(got)) => {
                let got: Vec<(&str, &str)> =
                    got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                assert_eq!(&got, want, "input {input:?}");
            }
            (Err(want), Err(got)) => assert!(got.contains(want), "input {input:?}: {got}"),
            _ => panic!("input {input:?}: want {want:?}, got {got:?}"),
        }
    }
}

/// The environment of `CASES`.
fn environment(name: &str) -> Option<String> {
    let value = match name {
        "FROM_ENV" => "from env",
        "EMPTY_ENV" => "",
        "VAR_TO_BE_LOADED_FROM_OS_ENV" => "SOME_RANDOM_VALUE",
        "ME" => "YES",
        _ => return None,
    };
    Some(value.to_string())
}

/// compose-go's tests are in github.com/compose-spec/compose-go, `dotenv/` (the fixture
/// files are `dotenv/fixtures/*.env`, inlined here); "docs" is Compose's "env file syntax"
/// list (docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/).
const CASES: &[Case] = &[
    // godotenv_test.go TestParsing
    ("FOO=bar", Ok(&[("FOO", "bar")])),
    ("FOO =bar", Ok(&[("FOO", "bar")])),
    ("FOO= bar", Ok(&[("FOO", "bar")])),
    (r#"FOO="bar""#, Ok(&[("FOO", "bar")])),
    ("FOO='bar'", Ok(&[("FOO", "bar")])),
    (r#"FOO="escaped\"bar""#, Ok(&[("FOO", r#"escaped"bar"#)])),
    (r#"FOO="\"quoted\"""#, Ok(&[("FOO", r#""quoted""#)])),
    (r#"FOO="'d'""#, Ok(&[("FOO", "'d'")])),
    ("OPTION_A: 1", Ok(&[("OPTION_A", "1")])),
    ("OPTION_A: Foo=bar", Ok(&[("OPTION_A", "Foo=bar")])),
    ("OPTION_A=1:B", Ok(&[("OPTION_A", "1:B")])),
    ("export OPTION_A=2", Ok(&[("OPTION_A", "2")])),
    (r"export OPTION_B='\n'", Ok(&[("OPTION_B", r"\n")])),
    ("export exportFoo=2", Ok(&[("exportFoo", "2")])),
    ("exportFOO=2", Ok(&[("exportFOO", "2")])),
    ("export_FOO =2", Ok(&[("export_FOO", "2")])),
    ("export.FOO= 2", Ok(&[("export.FOO", "2")])),
    ("export\tOPTION_A=2", Ok(&[("OPTION_A", "2")])),
    ("  export OPTION_A=2", Ok(&[("OPTION_A", "2")])),
    ("\texport OPTION_A=2", Ok(&[("OPTION_A", "2")])),
    (r#"export OPTION_A="export A""#, Ok(&[("OPTION_A", "export A")])),
    (r#"FOO="bar\nbaz""#, Ok(&[("FOO", "bar\nbaz")])),
    (r"FOO=a\tb", Ok(&[("FOO", r"a\tb")])),
    (r#"FOO="a\tb""#, Ok(&[("FOO", "a\tb")])),
    (
        r#"KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z""#,
        Ok(&[("KEY", "Z\x07Z\x08Z\x0cZ\nZ\rZ\tZ\x0bZ\\ZSZ")]),
    ),
    ("FOO.BAR=foobar", Ok(&[("FOO.BAR", "foobar")])),
    ("FOO=foobar=", Ok(&[("FOO", "foobar=")])),
    ("FOO=bar ", Ok(&[("FOO", "bar")])),
    ("FOO=bar # this is foo", Ok(&[("FOO", "bar")])),
    ("FOO=bar #this is foo", Ok(&[("FOO", "bar")])),
    ("FOO=bar #", Ok(&[("FOO", "bar")])),
    ("FOO=123#not-an-inline-comment", Ok(&[("FOO", "123#not-an-inline-comment")])),
    (r#"FOO="bar#baz""#, Ok(&[("FOO", "bar#baz")])),
    (r##"FOO="bar#baz"#"##, Ok(&[("FOO", "bar#baz")])),
    (r#"FOO="bar#baz" # comment"#, Ok(&[("FOO", "bar#baz")])),
    ("FOO='bar#baz' # comment", Ok(&[("FOO", "bar#baz")])),
    (r#"FOO="bar#baz#bang" # comment"#, Ok(&[("FOO", "bar#baz#bang")])),
    (r#"FOO="ba#r""#, Ok(&[("FOO", "ba#r")])),
    ("FOO='ba#r'", Ok(&[("FOO", "ba#r")])),
    (r#"FOO="bar\n\ b\az""#, Ok(&[("FOO", "bar\n\\ b\x07z")])),
    (r#"FOO="bar\\\n\ b\az""#, Ok(&[("FOO", "bar\\\n\\ b\x07z")])),
    (r#"FOO="bar\\r\ b\az""#, Ok(&[("FOO", "bar\\r\\ b\x07z")])),
    (r#"FOO="bar\nbaz\\""#, Ok(&[("FOO", "bar\nbaz\\")])),
    // compose-go accepts this as a variable named "": we do not (see the module comment).
    (r#"="value""#, Err("line 1: no name before the '='")),
    (" KEY =value", Ok(&[("KEY", "value")])),
    ("   KEY=value", Ok(&[("KEY", "value")])),
    ("\tKEY=value", Ok(&[("KEY", "value")])),
    (r#"KEY="\0123""#, Ok(&[("KEY", "S")])),
    (r#"KEY="\x07""#, Ok(&[("KEY", r"\x07")])),
    (r#"KEY="\u12e4""#, Ok(&[("KEY", r"\u12e4")])),
    (r#"KEY="\U00101234""#, Ok(&[("KEY", r"\U00101234")])),
    ("lol$wut", Err("line 1: not KEY=VALUE")),
    // godotenv_test.go TestParse
    (
        "ONE=1\nTWO='2'\nTHREE = \"3\"",
        Ok(&[("ONE", "1"), ("TWO", "2"), ("THREE", "3")]),
    ),
    // godotenv_test.go TestUnterminatedQuotes
    (r#"KEY=""#, Err("line 1: unclosed double quote")),
    (r#"KEY="value"#, Err("line 1: unclosed double quote")),
    (r#"KEY="value\""#, Err("line 1: unclosed double quote")),
    (r#"KEY="value'"#, Err("line 1: unclosed double quote")),
    ("KEY='", Err("line 1: unclosed single quote")),
    ("KEY='value", Err("line 1: unclosed single quote")),
    (r"KEY='value\'", Err("line 1: unclosed single quote")),
    (r#"KEY='value""#, Err("line 1: unclosed single quote")),
    // godotenv_test.go TestLinesToIgnore
    ("\n", Ok(&[])),
    ("\r\n", Ok(&[])),
    ("\t\t ", Ok(&[])),
    ("# Comment", Ok(&[])),
    ("\t # comment", Ok(&[])),
    // godotenv_test.go TestExpanding
    ("FOO=test\nBAR=$FOO", Ok(&[("FOO", "test"), ("BAR", "test")])),
    ("FOO=test\nBAR=${FOO}bar", Ok(&[("FOO", "test"), ("BAR", "testbar")])),
    ("BAR=$FOO", Ok(&[("BAR", "")])),
    (
        "FOO=test\nBAR=\"quote $FOO\"",
        Ok(&[("FOO", "test"), ("BAR", "quote test")]),
    ),
    ("BAR='quote $FOO'", Ok(&[("BAR", "quote $FOO")])),
    (r#"FOO="foo\$BAR""#, Ok(&[("FOO", "foo$BAR")])),
    (r#"FOO="foo\${BAR}""#, Ok(&[("FOO", "foo${BAR}")])),
    (
        "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
        Ok(&[("FOO", "test"), ("BAR", "foo${FOO} test")]),
    ),
    // godotenv_test.go TestVariableStringValueSeparator
    (
        "TEST_URLS=\"stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443\"",
        Ok(&[(
            "TEST_URLS",
            "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443",
        )]),
    ),
    // godotenv_test.go TestExpandingEnvironmentWithLookup
    ("TEST=$ME", Ok(&[("TEST", "YES")])),
    // godotenv_test.go TestReadPlainEnv, fixtures/plain.env. compose-go's Read drops
    // `456`, a name starting with a digit, but the path Compose takes for env_file and
    // --env-file (ParseWithFormat, GetEnvFromFile) keeps it, as we do.
    (
        "OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\n\
         OPTION_F = \nOPTION_G=\nOPTION_H = my string # Inline comment\n",
        Ok(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", "3"),
            ("OPTION_D", "4"),
            ("OPTION_E", "5"),
            ("456", "ABC"),
            ("OPTION_F", ""),
            ("OPTION_G", ""),
            ("OPTION_H", "my string"),
        ]),
    ),
    // godotenv_test.go TestUTF8BOM, fixtures/utf8-bom.env
    (
        "\u{feff}OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\n\
         OPTION_F =\nOPTION_G=\nOPTION_H = my string # Inline comment\n",
        Ok(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", "3"),
            ("OPTION_D", "4"),
            ("OPTION_E", "5"),
            ("456", "ABC"),
            ("OPTION_F", ""),
            ("OPTION_G", ""),
            ("OPTION_H", "my string"),
        ]),
    ),
    // godotenv_test.go TestLoadQuotedEnv, fixtures/quoted.env
    (
        "OPTION_A='1'\nOPTION_B='2'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_E=\"1\"\n\
         OPTION_F=\"2\"\nOPTION_G=\"\"\nOPTION_H=\"\\n\"\n\
         OPTION_I = \"echo 'asd'\" # Inline comment\n\
         OPTION_J = 'first line\nsecond line\nthird line\nand so on'\n\
         OPTION_K='Let\\'s go!'\nOPTION_Z = \"last value\"\n",
        Ok(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", ""),
            ("OPTION_D", "\\n"),
            ("OPTION_E", "1"),
            ("OPTION_F", "2"),
            ("OPTION_G", ""),
            ("OPTION_H", "\n"),
            ("OPTION_I", "echo 'asd'"),
            ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
            ("OPTION_K", "Let's go!"),
            ("OPTION_Z", "last value"),
        ]),
    ),
    // godotenv_test.go TestLoadUnquotedEnv, fixtures/unquoted.env
    (
        "OPTION_A = \"some quoted phrase\"\nOPTION_B=first one with an unquoted phrase\n\
         OPTION_C = then another one with an unquoted phrase\n\
         OPTION_D = then another one with an unquoted phrase special è char\n\
         OPTION_E = \"then another one quoted phrase\"\n",
        Ok(&[
            ("OPTION_A", "some quoted phrase"),
            ("OPTION_B", "first one with an unquoted phrase"),
            ("OPTION_C", "then another one with an unquoted phrase"),
            ("OPTION_D", "then another one with an unquoted phrase special è char"),
            ("OPTION_E", "then another one quoted phrase"),
        ]),
    ),
    // godotenv_test.go TestLoadExportedEnv, fixtures/exported.env
    (
        "export OPTION_A=2\nexport OPTION_B='\\n'\n",
        Ok(&[("OPTION_A", "2"), ("OPTION_B", "\\n")]),
    ),
    // godotenv_test.go TestLoadEqualsEnv, fixtures/equals.env
    (
        "export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n\n",
        Ok(&[("OPTION_A", "postgres://localhost:5432/database?sslmode=disable")]),
    ),
    // godotenv_test.go TestDash, fixtures/special.env
    (
        "VAR.WITH.DOTS=dots\nVAR_WITH_UNDERSCORES=underscores\nVAR-WITH-DASHES=dashes\n",
        Ok(&[
            ("VAR.WITH.DOTS", "dots"),
            ("VAR_WITH_UNDERSCORES", "underscores"),
            ("VAR-WITH-DASHES", "dashes"),
        ]),
    ),
    // godotenv_test.go TestSubstitutions, fixtures/substitutions.env
    (
        "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n\
         OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
        Ok(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ]),
    ),
    // godotenv_test.go TestSubstitutionsWithUnsetVarEnvFileDefaultValuePrecedence,
    // fixtures/substitutions-default.env
    (
        "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n\
         OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
        Ok(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ]),
    ),
    // godotenv_test.go TestErrorParsing, fixtures/invalid1.env ("line 7: key cannot
    // contain a space" there)
    (
        "# some comments\nfoo=\"\n  a\n  multine\n  value\n\"\nINVALID LINE\nzot=qix",
        Err("line 7: not KEY=VALUE"),
    ),
    // godotenv_test.go TestInheritedEnvVariableSameSize, fixtures/inherited-multi-var.env
    (
        "foo=bar\nVAR_TO_BE_LOADED_FROM_OS_ENV\nbar=baz\n",
        Ok(&[
            ("foo", "bar"),
            ("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"),
            ("bar", "baz"),
        ]),
    ),
    // godotenv_test.go TestInheritedEnvVariableSingleVar, fixtures/inherited-single-var.env
    (
        "VAR_TO_BE_LOADED_FROM_OS_ENV\n",
        Ok(&[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")]),
    ),
    // godotenv_test.go TestInheritedEnvVariableNotFound, fixtures/inherited-not-found.env
    ("VARIABLE_NOT_FOUND\n", Ok(&[])),
    // parser_test.go TestParseBytes
    (
        "\na=b\na[1]=c\na.propertyKey=d\nárvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép\n",
        Ok(&[
            ("a", "b"),
            ("a[1]", "c"),
            ("a.propertyKey", "d"),
            ("árvíztűrő-TÜKÖRFÚRÓGÉP", "ÁRVÍZTŰRŐ-tükörfúrógép"),
        ]),
    ),
    // parser_test.go TestParseVariable
    (
        "%!(EXTRA string)=foo",
        Err("line 1: the name holds a character a name may not (its character 1;"),
    ),
    // godotenv_var_expansion_test.go: EMPTY_VAR and TEST_VAR are set on earlier lines.
    // TestExpandIfEmptyOrUnset
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${UNSET_VAR:-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Default Value")]),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${EMPTY_VAR:-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Default Value")]),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${TEST_VAR:-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Test Value")]),
    ),
    // TestExpandIfUnset
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${UNSET_VAR-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Default Value")]),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${EMPTY_VAR-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "")]),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${TEST_VAR-Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Test Value")]),
    ),
    // TestErrorIfEmptyOrUnset
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${UNSET_VAR:?Test error}",
        Err("line 3: required variable UNSET_VAR is missing a value: Test error"),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${EMPTY_VAR:?Test error}",
        Err("line 3: required variable EMPTY_VAR is missing a value: Test error"),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${TEST_VAR:?Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Test Value")]),
    ),
    // TestErrorIfUnset
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${UNSET_VAR?Test error}",
        Err("line 3: required variable UNSET_VAR is missing a value: Test error"),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${EMPTY_VAR?Test error}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "")]),
    ),
    (
        "EMPTY_VAR=\nTEST_VAR=Test Value\nRESULT=${TEST_VAR?Default Value}",
        Ok(&[("EMPTY_VAR", ""), ("TEST_VAR", "Test Value"), ("RESULT", "Test Value")]),
    ),
    // docs
    ("VAR=VAL", Ok(&[("VAR", "VAL")])),
    (r#"VAR="VAL""#, Ok(&[("VAR", "VAL")])),
    ("VAR='VAL'", Ok(&[("VAR", "VAL")])),
    ("VAR=VAL # comment", Ok(&[("VAR", "VAL")])),
    ("VAR=VAL# not a comment", Ok(&[("VAR", "VAL# not a comment")])),
    (r#"VAR="VAL # not a comment""#, Ok(&[("VAR", "VAL # not a comment")])),
    (r#"VAR="VAL" # comment"#, Ok(&[("VAR", "VAL")])),
    ("VAR='$OTHER'", Ok(&[("VAR", "$OTHER")])),
    ("VAR='${OTHER}'", Ok(&[("VAR", "${OTHER}")])),
    (r"VAR='Let\'s go!'", Ok(&[("VAR", "Let's go!")])),
    (r#"VAR="{\"hello\": \"json\"}""#, Ok(&[("VAR", r#"{"hello": "json"}"#)])),
    (r#"VAR="some\tvalue""#, Ok(&[("VAR", "some\tvalue")])),
    (r"VAR='some\tvalue'", Ok(&[("VAR", r"some\tvalue")])),
    (r"VAR=some\tvalue", Ok(&[("VAR", r"some\tvalue")])),
    // Ours, by compose-go's code. Unquoted values with spaces, and spacing.
    ("PLAIN=hello world", Ok(&[("PLAIN", "hello world")])),
    ("PLAIN = hello world  \t", Ok(&[("PLAIN", "hello world")])),
    ("A = 1", Ok(&[("A", "1")])),
    ("A\t=\t1", Ok(&[("A", "1")])),
    ("A=b#c", Ok(&[("A", "b#c")])),
    // Only a space starts an inline comment, and not one right after the '=' (which is
    // dropped first): compose-go cuts at " #" after trimming the start.
    ("A=b\t#c", Ok(&[("A", "b\t#c")])),
    ("A= # c", Ok(&[("A", "# c")])),
    ("A=\nB=\"\"\nC=''\nD= ", Ok(&[("A", ""), ("B", ""), ("C", ""), ("D", "")])),
    // A later line wins, at its own position.
    ("A=1\nB=2\nA=3", Ok(&[("B", "2"), ("A", "3")])),
    ("A=1\nA=$A-2", Ok(&[("A", "1-2")])),
    // CRLF: the CR goes with the blank space at line ends, but stays inside quotes.
    (
        "A=1\r\nB=\"two\"\r\n# c\r\nC='x y'\r\nD=d # c\r\nFROM_ENV\r\n",
        Ok(&[("A", "1"), ("B", "two"), ("C", "x y"), ("D", "d"), ("FROM_ENV", "from env")]),
    ),
    ("A=\"x\r\ny\"\r\n", Ok(&[("A", "x\r\ny")])),
    // Single quotes: literal but for \'; double quotes: escapes and interpolation.
    (r"A='a\\b\nc $FROM_ENV'", Ok(&[("A", r"a\\b\nc $FROM_ENV")])),
    (r#"A="a\\b\nc $FROM_ENV""#, Ok(&[("A", "a\\b\nc from env")])),
    (r"A=a\\b\nc $FROM_ENV", Ok(&[("A", r"a\\b\nc from env")])),
    (r#"A="\0101\0777 \01 \c \0""#, Ok(&[("A", r"A\0777 \01 \c \0")])),
    // Multi-line values, and lines counted through them.
    (
        "A='l1\nl2'\nB=\"l3\nl4\"\nC=3",
        Ok(&[("A", "l1\nl2"), ("B", "l3\nl4"), ("C", "3")]),
    ),
    (
        "A=\"1\n2\n3\"\nB='x\ny'\nBAD KEY=v\n",
        Err("line 6: the name before the '=' holds a space"),
    ),
    ("A=\"1\n2\"\nB=\"v\nC=3\n", Err("line 3: unclosed double quote in the value of \"B\"")),
    ("A='1\n2'\n\nB='v\n", Err("line 4: unclosed single quote")),
    ("A=\"1\n2\"\nB=${C:?needs C}\n", Err("line 3: required variable C is missing a value")),
    // Text after a closing quote is read as a new statement.
    ("A=\"x\" B=2", Ok(&[("A", "x"), ("B", "2")])),
    ("A='x'#c\nB=2", Ok(&[("A", "x"), ("B", "2")])),
    ("A=\"x\"y$z=1", Err("line 1: unexpected text after a closing quote")),
    // Interpolation of earlier lines and of the environment.
    ("A=1\nB=\"${A}2\"\nC=$A$B", Ok(&[("A", "1"), ("B", "12"), ("C", "112")])),
    ("A=$FROM_ENV", Ok(&[("A", "from env")])),
    ("A=${FROM_ENV:+set}${UNSET+set}", Ok(&[("A", "set")])),
    ("A=${EMPTY_ENV-x}|${EMPTY_ENV:-x}", Ok(&[("A", "|x")])),
    ("A=${EMPTY_ENV?}|${EMPTY_ENV+y}|${EMPTY_ENV:+y}", Ok(&[("A", "|y|")])),
    ("A=${UNSET:-${ALSO_UNSET:-d}}", Ok(&[("A", "d")])),
    ("A=$$FROM_ENV $$ $", Ok(&[("A", "$FROM_ENV $ $")])),
    (r#"A="$$FROM_ENV \$FROM_ENV""#, Ok(&[("A", "$FROM_ENV $FROM_ENV")])),
    // Unquoted, a backslash is kept and does not stop interpolation.
    (r"A=\$FROM_ENV", Ok(&[("A", r"\from env")])),
    ("A=${UNSET:?}", Err("line 1: required variable UNSET is missing a value")),
    ("A=${FROM_ENV:?}", Ok(&[("A", "from env")])),
    ("A=ok\nB=${A", Err("line 2: invalid interpolation in the value of \"B\"")),
    ("A=\"x ${B:-\n}\"", Err("line 1: invalid interpolation")),
    ("A='${'", Ok(&[("A", "${")])),
    // A lone name takes the environment's value, also on a last line without a line
    // break (which compose-go reads as a value for a variable named "").
    ("FROM_ENV\nNOT_SET\n", Ok(&[("FROM_ENV", "from env")])),
    ("A=1\nFROM_ENV", Ok(&[("A", "1"), ("FROM_ENV", "from env")])),
    ("export FROM_ENV\n", Ok(&[("FROM_ENV", "from env")])),
    ("export\nA=1", Ok(&[("A", "1")])),
    ("export=1", Ok(&[("export", "1")])),
    // Bad names.
    ("A=1\nBAD KEY=1", Err("line 2: the name before the '=' holds a space")),
    ("A\tB=1", Err("line 1: the name before the '=' holds a space")),
    ("\n\nK$Y=1", Err("line 3: the name holds a character a name may not (its character 2;")),
    ("\"A\"=1", Err("line 1: the name holds a character a name may not (its character 1;")),
    (":1", Err("line 1: no name before the ':'")),
    ("A=1\nnot a statement\n", Err("line 2: not KEY=VALUE")),
    ("two words", Err("line 1: not KEY=VALUE")),
];

#[test]
fn reads_compose_env_files() {
    check(CASES, environment);
}

/// compose-go's template/template_test.go, with its defaultMapping as the environment.
const TEMPLATE_CASES: &[Case] = &[
    // TestEscaped, TestSubstituteNoMatch, TestUnescaped
    ("R=$${foo}", Ok(&[("R", "${foo}")])),
    ("R=foo", Ok(&[("R", "foo")])),
    ("R=a $ string", Ok(&[("R", "a $ string")])),
    ("R=^REGEX$", Ok(&[("R", "^REGEX$")])),
    ("R=$}", Ok(&[("R", "$}")])),
    ("R=$", Ok(&[("R", "$")])),
    // TestInvalid
    ("R=${", Err("line 1: invalid interpolation")),
    ("R=${}", Err("line 1: invalid interpolation")),
    ("R=${ }", Err("line 1: invalid interpolation")),
    ("R=${ foo}", Err("line 1: invalid interpolation")),
    ("R=${foo }", Err("line 1: invalid interpolation")),
    ("R=${foo!}", Err("line 1: invalid interpolation")),
    // TestNonBraced, TestNoValueNoDefault, TestValueNoDefault, TestNoValueWithDefault
    ("R=$FOO-bar", Ok(&[("R", "first-bar")])),
    ("R=This ${missing} var", Ok(&[("R", "This  var")])),
    ("R=This ${BAR} var", Ok(&[("R", "This  var")])),
    ("R=This $FOO var", Ok(&[("R", "This first var")])),
    ("R=This ${FOO} var", Ok(&[("R", "This first var")])),
    ("R=ok ${missing:-def}", Ok(&[("R", "ok def")])),
    ("R=ok ${missing-def}", Ok(&[("R", "ok def")])),
    // TestLazyDefaultDoesNotWarn, TestLazyDefaultWarnsWhenUsed
    ("R=${A:+${A},}B", Ok(&[("R", "B")])),
    ("R=${A:-${B}}", Ok(&[("R", "")])),
    // TestEmptyValueWithSoftDefault ... TestPresentValueAndNotEmptyWithSet
    ("R=ok ${BAR:-def}", Ok(&[("R", "ok def")])),
    ("R=ok ${FOO:-def}", Ok(&[("R", "ok first")])),
    ("R=ok ${BAR-def}", Ok(&[("R", "ok ")])),
    ("R=ok ${UNSET_VAR:+presence_value}", Ok(&[("R", "ok ")])),
    ("R=ok ${UNSET_VAR+presence_value}", Ok(&[("R", "ok ")])),
    (
        "R=ok ${FOO:+presence_value}",
        Ok(&[("R", "ok presence_value")]),
    ),
    (
        "R=ok ${FOO+presence_value}",
        Ok(&[("R", "ok presence_value")]),
    ),
    (
        "R=ok ${BAR+presence_value}",
        Ok(&[("R", "ok presence_value")]),
    ),
    ("R=ok ${BAR:+presence_value}", Ok(&[("R", "ok ")])),
    // TestNonAlphanumericDefault
    (
        "R=ok ${BAR:-/non:-alphanumeric}",
        Ok(&[("R", "ok /non:-alphanumeric")]),
    ),
    // TestInterpolationExternalInterference
    (
        "R=-ok ${BAR:-defaultValue}",
        Ok(&[("R", "-ok defaultValue")]),
    ),
    ("R=+ok ${UNSET:-${BAR-defaultValue}}", Ok(&[("R", "+ok ")])),
    (
        "R=:-ok ${UNSET-defaultValue}",
        Ok(&[("R", ":-ok defaultValue")]),
    ),
    ("R=:?ok ${BAR-defaultValue}", Ok(&[("R", ":?ok ")])),
    (
        "R=?ok ${BAR:-defaultValue}",
        Ok(&[("R", "?ok defaultValue")]),
    ),
    // TestDefaultsWithNestedExpansion
    ("R=ok ${UNSET_VAR-$FOO}", Ok(&[("R", "ok first")])),
    ("R=ok ${UNSET_VAR-${FOO}}", Ok(&[("R", "ok first")])),
    (
        "R=ok ${UNSET_VAR-${FOO} ${FOO}}",
        Ok(&[("R", "ok first first")]),
    ),
    ("R=ok ${BAR:-$FOO}", Ok(&[("R", "ok first")])),
    ("R=ok ${BAR:-${FOO} ${FOO}}", Ok(&[("R", "ok first first")])),
    ("R=ok ${BAR+$FOO}", Ok(&[("R", "ok first")])),
    (
        "R=ok ${BAR+$FOO ${FOO:+second}}",
        Ok(&[("R", "ok first second")]),
    ),
    // TestMandatoryVariableErrors
    (
        "R=not ok ${UNSET_VAR:?Mandatory Variable Unset}",
        Err("line 1: required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
    ),
    (
        "R=not ok ${BAR:?Mandatory Variable Empty}",
        Err("line 1: required variable BAR is missing a value: Mandatory Variable Empty"),
    ),
    (
        "R=not ok ${UNSET_VAR:?}",
        Err("line 1: required variable UNSET_VAR is missing a value"),
    ),
    (
        "R=not ok ${UNSET_VAR?Mandatory Variable Unset}",
        Err("line 1: required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
    ),
    (
        "R=not ok ${UNSET_VAR?}",
        Err("line 1: required variable UNSET_VAR is missing a value"),
    ),
    // TestMandatoryVariableErrorsWithNestedExpansion: compose-go shows the message
    // interpolated ("Mandatory Variable first"); we show it as written.
    (
        "R=not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
        Err("line 1: required variable UNSET_VAR is missing a value: Mandatory Variable ${FOO}"),
    ),
    // TestDefaultsForMandatoryVariables
    ("R=ok ${FOO:?err}", Ok(&[("R", "ok first")])),
    ("R=ok ${FOO?err}", Ok(&[("R", "ok first")])),
    ("R=ok ${BAR?err}", Ok(&[("R", "ok ")])),
    // TestSubstituteWithReplacementFunc (its last case)
    (
        "R=ok ${SUBDOMAIN:-redis}.${FOO:?}",
        Ok(&[("R", "ok redis.first")]),
    ),
    // TestPrecedence
    (
        "R=${UNSET_VAR?bar-baz}",
        Err("line 1: required variable UNSET_VAR is missing a value: bar-baz"),
    ),
    ("R=${UNSET_VAR-myerror?msg}", Ok(&[("R", "myerror?msg")])),
    ("R=${FOO?bar-baz}", Ok(&[("R", "first")])),
    (
        "R=${BAR:-default_value_for_empty_var}",
        Ok(&[("R", "default_value_for_empty_var")]),
    ),
    // TestNoValueWithCurlyBracesDefault, TestValueWithCurlyBracesDefault
    (
        r#"R=ok ${missing:-{"json":1}}"#,
        Ok(&[("R", r#"ok {"json":1}"#)]),
    ),
    (
        r#"R=ok ${missing-{"json":1}}"#,
        Ok(&[("R", r#"ok {"json":1}"#)]),
    ),
    (
        r#"R=ok ${JSON:-{"json":1}}"#,
        Ok(&[("R", r#"ok {"json":2}"#)]),
    ),
    (
        r#"R=ok ${JSON-{"json":1}}"#,
        Ok(&[("R", r#"ok {"json":2}"#)]),
    ),
];

#[test]
fn interpolates_as_compose_templates() {
    check(TEMPLATE_CASES, |name| {
        let value = match name {
            "FOO" => "first",
            "BAR" => "",
            "JSON" => r#"{"json":2}"#,
            _ => return None,
        };
        Some(value.to_string())
    });
}

#[test]
fn the_environment_wins_over_earlier_lines() {
    let option_a = |name: &str| (name == "OPTION_A").then(|| "5".to_string());
    // godotenv_test.go TestSubstitutionsWithEnvFilePrecedence, fixtures/substitutions.env
    check(
        &[(
            "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n\
             OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            Ok(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        )],
        option_a,
    );
    // TestSubstitutionsWithEnvFileDefaultValuePrecedence, fixtures/substitutions-default.env
    check(
        &[(
            "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n\
             OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            Ok(&[
                ("OPTION_A", "5"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        )],
        option_a,
    );
    // TestMultipleFiles (its override file, with ENV_HOSTNAME in the environment)
    check(
        &[(
            "ENV_HOSTNAME=dev.my-company.com\nENV_MY_URL=\"http://${ENV_HOSTNAME}\"\n",
            Ok(&[
                ("ENV_HOSTNAME", "dev.my-company.com"),
                ("ENV_MY_URL", "http://host.local"),
            ]),
        )],
        |name| (name == "ENV_HOSTNAME").then(|| "host.local".to_string()),
    );
}

#[test]
fn errors_name_the_line_and_never_a_value() {
    let cases: &[(&str, &str)] = &[
        ("GOOD=1\nBAD LINE s3cr3t\n", "line 2:"),
        ("A=\"unclosed s3cr3t\n", "line 1:"),
        ("A='s3cr3t\n\nB=2", "line 1:"),
        ("A=\"a\nb\"\nB=\"s3cr3t\nc", "line 3:"),
        ("A='a\nb'\nB KEY=s3cr3t", "line 3:"),
        ("A=s3cr3t\n=s3cr3t", "line 2:"),
        ("A=s3cr3t\n:s3cr3t", "line 2:"),
        ("K$Y=s3cr3t", "line 1:"),
        ("K$Y: s3cr3t", "line 1:"),
        ("A=\"x\"s3cr3t$=1", "line 1:"),
        ("A=\"x\" s3cr3t x=1", "line 1:"),
        ("A=\"x\"s3cr3t\"", "line 1:"),
        ("A=${s3cr3t", "line 1:"),
        ("A=s3cr3t${", "line 1:"),
        ("A=\"s3cr3t\n${B:?}\"", "line 1:"),
        ("A=x\ns3cr3t\tvalue\n", "line 2:"),
        ("A=x\n\ns3cr3t value", "line 3:"),
        ("s3cr3t$", "line 1:"),
        // What stands before the separator of a mistyped line is mostly the value.
        ("AWS_SECRET_ACCESS_KEY s3cr3tKEY==\n", "line 1:"),
        ("A=1\nTOKEN s3cr3t:x\n", "line 2:"),
        ("KEY=-----BEGIN\ns3cr3t/ab+cd==\n", "line 2:"),
    ];
    for (text, line) in cases {
        let f = file(text);
        let err = EnvFile::read(f.path()).unwrap_err();
        let shown = format!("{:?}", f.path().display().to_string());
        assert!(
            err.starts_with(&format!("invalid --env-file {shown}: {line} ")),
            "{text:?}: {err}"
        );
        assert!(err.contains("; expected KEY=VALUE lines ("), "{err}");
        assert!(!err.contains("s3cr3t"), "{text:?}: {err}");
    }
    let err = EnvFile::read(Path::new("/nonexistent/.env")).unwrap_err();
    assert!(err.contains("/nonexistent/.env"), "{err}");
}

#[test]
fn reads_values() {
    let f = file("# c\nA=1\nexport B=\"two words\"\nC='x=y'\nA=3\nD=hello world\n");
    let env = EnvFile::read(f.path()).unwrap();
    assert_eq!(
        env.vars,
        [
            ("B".into(), "two words".into()),
            ("C".into(), "x=y".into()),
            ("A".into(), "3".into()),
            ("D".into(), "hello world".into()),
        ]
    );
    assert!(!format!("{env:?}").contains("two words"));
}

#[test]
fn read_takes_the_process_environment() {
    // Any variable this process has, so as not to set one under other tests' feet.
    let Some((name, value)) = std::env::vars().find(|(k, _)| {
        k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }) else {
        return;
    };
    let f = file(&format!("X=\"${{{name}}}\"\n{name}\n"));
    let env = EnvFile::read(f.path()).unwrap();
    assert_eq!(env.vars, [("X".into(), value.clone()), (name, value)]);
}

#[test]
fn digest_changes_with_values_and_key() {
    let a = EnvFile {
        path: "/x".into(),
        vars: vec![("K".into(), "1".into())],
    };
    let b = EnvFile {
        path: "/x".into(),
        vars: vec![("K".into(), "2".into())],
    };
    assert_ne!(a.digest(b"k"), b.digest(b"k"));
    let ab = EnvFile {
        path: "/x".into(),
        vars: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
    };
    let ba = EnvFile {
        path: "/x".into(),
        vars: vec![("B".into(), "2".into()), ("A".into(), "1".into())],
    };
    assert_eq!(ab.digest(b"k"), ba.digest(b"k"), "line order is no change");
    assert_ne!(a.digest(b"k"), a.digest(b"other"));
    assert_eq!(a.digest(b"k"), a.digest(b"k"));
}
