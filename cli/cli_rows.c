/* The option rows several commands share (cli.h, "option tables"). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "veil/common.h"

#include "cli.h"

/* ---- audit and attack ---- */
const cli_option cli_attacker_rows[] = {
    CLI_INT_ROW("--st", "N", cli_attacker_args, st, 2, 100000, "speakers per group (default 20)"),
    CLI_INT_ROW("--groups", "N", cli_attacker_args, groups, 0, 100000,
                "number of groups (default 0: as many as fit)"),
    {"--seed", NULL, CLI_LONG, "N", offsetof(cli_attacker_args, seed), 0, 0x7fffffffffffffffL, NULL,
     "groups, split and attackers (default 1)"},
    CLI_INT_ROW("--epochs", "N", cli_attacker_args, epochs, 1, 100000,
                "epochs of the MLP attackers (paper-mlp; default 150)"),
    CLI_TEXT_ROW("--cache", "DIR", cli_attacker_args, cache, "MFCC patch cache for --corpus"),
    CLI_TEXT_ROW("--task", "NAME", cli_attacker_args, task,
                 "the label a service recognises (gender, accent, dialect, a column):\n"
                 "the chance of an attacker who knows it (default gender)"),
    CLI_INT_ROW("--threads", "N", cli_attacker_args, threads, 0, 4096, "worker threads (default: all cores)"),
};
const size_t cli_attacker_n_rows = sizeof cli_attacker_rows / sizeof cli_attacker_rows[0];

/* ---- classify and extract ---- */
static int take_audio(void *base, const char *name, const char *path)
{
    (void)name;
    cli_files_add(&((cli_audio_args *)base)->files, path);
    return 0;
}

static int take_list(void *base, const char *name, const char *list)
{
    (void)name;
    cli_audio_args *a = base;
    if (a->n_lists < sizeof a->lists / sizeof a->lists[0]) a->lists[a->n_lists++] = list;
    return cli_files_read_list(&a->files, list);
}

const cli_option cli_audio_rows[] = {
    {"AUDIO...", NULL, CLI_ARGS, NULL, 0, 0, 0, take_audio,
     "audio files (any format libsndfile reads); - reads one from standard input"},
    CLI_CALL_ROW("--list", "FILE", take_list, "more audio files, one path a line (- = the names on standard input)"),
    CLI_FLAG_ROW("--strict", cli_audio_args, strict,
                 "a file shorter than one patch is an error (default: skipped, named\nin a warning)"),
    CLI_TEXT_ROW("--precision", "P", cli_audio_args, precision, "fp32|bf16|auto: the network's arithmetic (default fp32)"),
    CLI_INT_ROW("--threads", "N", cli_audio_args, threads, 0, 4096, "worker threads (default: all cores)"),
    CLI_INT_ROW("--batch", "N", cli_audio_args, batch, 1, 65536,
                "patches per forward pass (default 256; the results do not depend on it)"),
};
const size_t cli_audio_n_rows = sizeof cli_audio_rows / sizeof cli_audio_rows[0];

int cli_audio_parse(cli_command *c, int argc, char **argv, cli_audio_args *a)
{
    int parsed = cli_parse(c, argc, argv);
    if (parsed != CLI_PARSED) cli_files_free(&a->files);
    return parsed;
}

int cli_take_task(char *dst, size_t n, const char *option, const char *value)
{
    size_t len = strlen(value);
    int printable = 1;
    for (size_t i = 0; i < len; i++) printable &= (unsigned char)value[i] >= 0x20 && value[i] != 0x7f;
    if (!len || len >= n || !printable) {
        veil_error("%s: '%s' is not a task: give gender or a label name of the corpus (at most %zu "
                   "characters; veil corpus info lists them)", option, value, n - 1);
        return -1;
    }
    snprintf(dst, n, "%s", value);
    return 0;
}
