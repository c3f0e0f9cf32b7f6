/* corpus: the four loaders on tiny fixture trees, and their error messages. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/corpus.h"

static char base[4096];

/* path relative to the test folder; returns a static buffer (one of 4 in rotation) */
static const char *P(const char *rel)
{
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", base, rel);
    return buf[k];
}

static void mkparent(const char *path)
{
    char d[4200];
    snprintf(d, sizeof d, "%s", path);
    char *s = strrchr(d, '/');
    *s = 0;
    if (veil_mkdirs(d) != 0) {
        fprintf(stderr, "%s\n", veil_last_error());
        exit(2);
    }
}

/* A tone with a little noise, `seconds` long, at `rate`, in the given libsndfile format. */
static void write_audio(const char *rel, double seconds, int rate, int format)
{
    const char *path = P(rel);
    mkparent(path);
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = format};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "cannot write %s: %s\n", path, sf_strerror(NULL));
        exit(2);
    }
    int n = (int)lround(seconds * rate);
    float *x = malloc((size_t)n * sizeof *x);
    veil_rng r;
    veil_rng_seed(&r, (uint64_t)n);
    for (int i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * 220.0 * i / rate) + 0.01 * veil_rng_normal(&r));
    sf_write_float(sf, x, n);
    sf_close(sf);
    free(x);
}

static void write_text(const char *rel, const char *text)
{
    const char *path = P(rel);
    mkparent(path);
    test_write_file(path, text, strlen(text));
}

static const veil_speaker *find_speaker(const veil_corpus *c, const char *id)
{
    for (int i = 0; i < c->n_speakers; i++)
        if (!strcmp(c->speakers[i].id, id)) return &c->speakers[i];
    return NULL;
}

static int label_index(const veil_corpus *c, const char *name)
{
    for (int i = 0; i < c->n_label_names; i++)
        if (!strcmp(c->label_names[i], name)) return i;
    return -1;
}

#define NIST (SF_FORMAT_NIST | SF_FORMAT_PCM_16)
#define RIFF (SF_FORMAT_WAV | SF_FORMAT_PCM_16)
#define FLAC (SF_FORMAT_FLAC | SF_FORMAT_PCM_16)

static void test_timit(void)
{
    write_audio("timit/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("timit/TRAIN/DR1/FAKS0/SA2.WAV", 0.75, 16000, NIST);
    write_text("timit/TRAIN/DR1/FAKS0/SA1.PHN", "0 3050 h#\n");
    write_text("timit/TRAIN/DR1/FAKS0/SA1.TXT", "0 46797 She had your dark suit.\n");
    write_audio("timit/TRAIN/DR1/FAKS0/SA1.WAV.wav", 0.5, 16000, RIFF); /* converted copy: skipped */
    write_audio("timit/TRAIN/DR3/MDAB0/SI1.WAV", 1.0, 16000, NIST);
    write_audio("timit/test/dr2/mxyz0/sx1.wav", 0.5, 16000, RIFF);
    write_audio("timit/test/dr2/fabc0/Sx2.Wav", 0.6, 16000, NIST);
    write_text("timit/README.DOC", "not audio\n");

    veil_corpus *c = NULL;
    CHECK_MSG(veil_corpus_load(P("timit"), &c) == 0, "%s", veil_last_error());
    if (!c) return;
    CHECK(c->layout == VEIL_LAYOUT_TIMIT);
    CHECK(c->n_speakers == 4);
    CHECK(c->n_utts == 5);
    CHECK(veil_corpus_count_gender(c, 'F') == 2 && veil_corpus_count_gender(c, 'M') == 2);
    int ld = label_index(c, "dialect"), ls = label_index(c, "subset");
    CHECK(ld >= 0 && ls >= 0);
    const veil_speaker *s = find_speaker(c, "FAKS0");
    CHECK(s && s->gender == 'F' && s->n_utts == 2);
    if (s && ld >= 0 && ls >= 0) {
        CHECK(!strcmp(s->labels[ld], "DR1") && !strcmp(s->labels[ls], "TRAIN"));
        CHECK_NEAR(s->seconds, 1.25, 1e-9);
        CHECK_NEAR(c->utts[s->first_utt].seconds, 0.5, 1e-9);
        CHECK(strstr(c->utts[s->first_utt].path, "SA1.WAV") && !strstr(c->utts[s->first_utt].path, ".wav"));
        CHECK(strstr(c->utts[s->first_utt + 1].path, "SA2.WAV") != NULL);
    }
    s = find_speaker(c, "mxyz0");
    CHECK(s && s->gender == 'M');
    if (s && ld >= 0 && ls >= 0) CHECK(!strcmp(s->labels[ld], "DR2") && !strcmp(s->labels[ls], "TEST"));
    /* sorted by id, utterances grouped by speaker */
    for (int i = 1; i < c->n_speakers; i++) CHECK(strcmp(c->speakers[i - 1].id, c->speakers[i].id) < 0);
    for (int i = 0; i < c->n_speakers; i++)
        for (int u = c->speakers[i].first_utt; u < c->speakers[i].first_utt + c->speakers[i].n_utts; u++)
            CHECK(c->utts[u].speaker == i);

    char *txt = veil_corpus_summary_text(c);
    CHECK(strstr(txt, "timit") && strstr(txt, "4 (2 F / 2 M)") && strstr(txt, "DR1 1"));
    free(txt);
    char *js = veil_corpus_summary_json(c);
    cJSON *o = cJSON_Parse(js);
    CHECK(o != NULL);
    if (o) {
        CHECK(cJSON_GetObjectItem(o, "speakers")->valueint == 4);
        CHECK(cJSON_GetObjectItem(o, "female")->valueint == 2);
        CHECK(cJSON_GetObjectItem(o, "utterances")->valueint == 5);
        CHECK_NEAR(cJSON_GetObjectItem(o, "hours")->valuedouble, 3.35 / 3600, 1e-9);
        cJSON *list = cJSON_GetObjectItem(o, "speaker_list");
        CHECK(cJSON_GetArraySize(list) == 4);
        cJSON *first = cJSON_GetArrayItem(list, 0);
        CHECK(!strcmp(cJSON_GetObjectItem(first, "id")->valuestring, "FAKS0"));
        CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "labels"), "dialect")->valuestring, "DR1"));
        cJSON_Delete(o);
    }
    free(js);
    veil_corpus_free(c);

    /* ROOT may be one subset folder */
    CHECK_MSG(veil_corpus_load(P("timit/TRAIN/"), &c) == 0, "%s", veil_last_error());
    if (c) {
        CHECK(c->n_speakers == 2 && !strcmp(c->root, P("timit/TRAIN")));
        CHECK(!strcmp(c->speakers[0].labels[label_index(c, "subset")], "TRAIN"));
        veil_corpus_free(c);
    }
}

static void test_librispeech(void)
{
    write_text("libri/SPEAKERS.TXT", "; comment line\n"
                                     ";ID  |SEX| SUBSET           |MINUTES| NAME\n"
                                     "19   | F | train-clean-100  | 25.19 | Kara Shallenberg\n"
                                     "26   | M | train-clean-100  | 25.08 | Denny Sayers\n"
                                     "103  | F | train-clean-100  | 25.01 | Sean McGaughey\n"
                                     "999  | M | dev-clean        |  8.00 | Not On Disk\n");
    write_audio("libri/train-clean-100/19/198/19-198-0001.flac", 0.5, 16000, FLAC);
    write_audio("libri/train-clean-100/19/198/19-198-0002.flac", 0.5, 16000, FLAC);
    write_text("libri/train-clean-100/19/198/19-198.trans.txt", "19-198-0001 TEXT\n");
    write_audio("libri/train-clean-100/19/227/19-227-0001.flac", 0.25, 16000, FLAC);
    write_audio("libri/train-clean-100/26/495/26-495-0001.flac", 1.0, 16000, FLAC);
    write_audio("libri/train-clean-100/103/1240/103-1240-0000.flac", 0.5, 16000, FLAC);

    veil_corpus *c = NULL;
    CHECK_MSG(veil_corpus_load(P("libri"), &c) == 0, "%s", veil_last_error());
    if (c) {
        CHECK(c->layout == VEIL_LAYOUT_LIBRISPEECH);
        CHECK(c->n_speakers == 3 && c->n_utts == 5);
        /* numeric ids in numeric order */
        CHECK(!strcmp(c->speakers[0].id, "19") && !strcmp(c->speakers[1].id, "26") &&
              !strcmp(c->speakers[2].id, "103"));
        CHECK(c->speakers[0].gender == 'F' && c->speakers[1].gender == 'M');
        CHECK(c->speakers[0].n_utts == 3);
        CHECK_NEAR(c->speakers[0].seconds, 1.25, 1e-9);
        CHECK(c->n_label_names == 1 && !strcmp(c->speakers[0].labels[0], "train-clean-100"));
        veil_corpus_free(c);
    }
    /* one subset folder with SPEAKERS.TXT in its parent */
    CHECK_MSG(veil_corpus_load(P("libri/train-clean-100"), &c) == 0, "%s", veil_last_error());
    if (c) {
        CHECK(c->n_speakers == 3 && c->n_utts == 5);
        veil_corpus_free(c);
    }
    /* a speaker folder that SPEAKERS.TXT does not know */
    write_audio("libri/train-clean-100/250/1/250-1-0001.flac", 0.5, 16000, FLAC);
    CHECK_FAILS_WITH(veil_corpus_load(P("libri"), &c), "not listed: 250");
    CHECK_FAILS_WITH(veil_corpus_load(P("libri"), &c), "SPEAKERS.TXT");
}

static void test_vctk(void)
{
    write_text("vctk/speaker-info.txt", "ID  AGE  GENDER  ACCENTS  REGION\n"
                                        "225  23  F    English    Southern  England\n"
                                        "p226  22  M    English    Surrey\n"
                                        "p227  38  M    English    Cumbria\n");
    write_audio("vctk/wav48_silence_trimmed/p225/p225_001_mic1.flac", 0.5, 48000, FLAC);
    write_audio("vctk/wav48_silence_trimmed/p225/p225_001_mic2.flac", 0.5, 48000, FLAC);
    write_audio("vctk/wav48_silence_trimmed/p225/p225_002_mic1.flac", 0.25, 48000, FLAC);
    write_audio("vctk/wav48_silence_trimmed/p226/p226_001_mic1.flac", 0.5, 48000, FLAC);
    write_text("vctk/txt/p225/p225_001.txt", "Please call Stella.\n");

    veil_corpus *c = NULL;
    CHECK_MSG(veil_corpus_load(P("vctk"), &c) == 0, "%s", veil_last_error());
    if (c) {
        CHECK(c->layout == VEIL_LAYOUT_VCTK);
        CHECK(c->n_speakers == 2 && c->n_utts == 3);
        const veil_speaker *s = find_speaker(c, "p225");
        CHECK(s && s->gender == 'F' && s->n_utts == 2);
        int la = label_index(c, "age"), lc = label_index(c, "accent");
        if (s && la >= 0 && lc >= 0) {
            CHECK(!strcmp(s->labels[la], "23") && !strcmp(s->labels[lc], "English"));
            CHECK_NEAR(s->seconds, 0.75, 1e-9);
        }
        s = find_speaker(c, "p226");
        CHECK(s && s->gender == 'M');
        veil_corpus_free(c);
    }
    write_audio("vctk/wav48_silence_trimmed/p999/p999_001_mic1.flac", 0.5, 48000, FLAC);
    CHECK_FAILS_WITH(veil_corpus_load(P("vctk"), &c), "not listed: p999");
}

static void test_manifest(void)
{
    write_audio("man/a/one.wav", 0.5, 16000, RIFF);
    write_audio("man/a/two,x.wav", 0.25, 16000, RIFF);
    write_audio("man/b/three.flac", 1.0, 16000, FLAC);
    char csv[8192];
    snprintf(csv, sizeof csv,
             "\xEF\xBB\xBFpath,speaker,gender,\"region, city\",age\r\n"
             "a/one.wav,spkA,F,\"North, Leeds\",30\r\n"
             "\"a/two,x.wav\",spkA,female,\"North, Leeds\",30\r\n"
             "\r\n"
             "%s,spkB,Male,\"South \"\"quoted\"\"\",41\r\n",
             P("man/b/three.flac"));
    write_text("man/list.csv", csv);
    veil_corpus *c = NULL;
    CHECK_MSG(veil_corpus_load(P("man/list.csv"), &c) == 0, "%s", veil_last_error());
    if (c) {
        CHECK(c->layout == VEIL_LAYOUT_MANIFEST);
        CHECK(c->n_speakers == 2 && c->n_utts == 3);
        CHECK(c->n_label_names == 2 && !strcmp(c->label_names[0], "region, city") &&
              !strcmp(c->label_names[1], "age"));
        const veil_speaker *a = find_speaker(c, "spkA"), *b = find_speaker(c, "spkB");
        CHECK(a && a->gender == 'F' && a->n_utts == 2 && !strcmp(a->labels[0], "North, Leeds"));
        CHECK(b && b->gender == 'M' && !strcmp(b->labels[0], "South \"quoted\"") && !strcmp(b->labels[1], "41"));
        if (a) {
            CHECK_NEAR(a->seconds, 0.75, 1e-9);
            CHECK(strstr(c->utts[a->first_utt].path, "man/a/one.wav") != NULL);
            CHECK(strstr(c->utts[a->first_utt + 1].path, "man/a/two,x.wav") != NULL);
        }
        veil_corpus_free(c);
    }
    /* the same manifest under a name that does not end in .csv */
    write_text("man/list.manifest", csv);
    c = NULL;
    CHECK_MSG(veil_corpus_load(P("man/list.manifest"), &c) == 0, "%s", veil_last_error());
    if (c) CHECK(c->layout == VEIL_LAYOUT_MANIFEST && c->n_utts == 3);
    veil_corpus_free(c);

    /* malformed manifests: each message names the file and line */
    write_text("man/badgender.csv", "path,speaker,gender\na/one.wav,s1,F\nb/three.flac,s2,X\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/badgender.csv"), &c), "badgender.csv:3: unknown gender 'X'");
    write_text("man/nocol.csv", "path,speaker,sex\na/one.wav,s1,F\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/nocol.csv"), &c), "nocol.csv:1: missing column 'gender'");
    write_text("man/two.csv", "path,speaker,gender\na/one.wav,s1,F\nb/three.flac,s2,M\n\"a/two,x.wav\",s1,M\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/two.csv"), &c), "speaker 's1' is given gender");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/two.csv"), &c), "two.csv:4");
    write_text("man/missing.csv", "path,speaker,gender\na/one.wav,s1,F\na/nothere.wav,s2,M\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/missing.csv"), &c), "missing.csv:3: ");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/missing.csv"), &c), "nothere.wav: no such file");
    write_text("man/count.csv", "path,speaker,gender\na/one.wav,s1\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/count.csv"), &c), "count.csv:2: expected 3 fields");
    write_text("man/nospk.csv", "path,speaker,gender\na/one.wav,  ,F\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/nospk.csv"), &c), "nospk.csv:2: empty speaker");
    write_text("man/quote.csv", "path,speaker,gender\n\"a/one.wav,s1,F\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/quote.csv"), &c), "quote.csv:2: quoted field is not closed");
    write_text("man/twice.csv", "path,speaker,gender\na/one.wav,s1,F\nb/three.flac,s2,M\na/one.wav,s1,F\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/twice.csv"), &c), "listed twice");
    write_text("man/onlyf.csv", "path,speaker,gender\na/one.wav,s1,F\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/onlyf.csv"), &c), "no male speakers");

    /* issue 11: "m\0" was read as male; a NUL anywhere is refused with its line */
    const char nul[] = "path,speaker,gender\na/one.wav,s1,F\nb/three.flac,s2,m\0x\n";
    test_write_file(P("man/nul.csv"), nul, sizeof nul - 1);
    CHECK_FAILS_WITH(veil_corpus_load(P("man/nul.csv"), &c), "nul.csv:3: a NUL byte at offset");
    /* a path that is a directory is named as one, not "no such file" */
    write_text("man/dir.csv", "path,speaker,gender\na/one.wav,s1,F\nb,s2,M\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("man/dir.csv"), &c), "is a directory, not an audio file");
    /* a Latin-1 speaker id still gives valid JSON (the byte as the character it names) */
    write_text("man/latin1.csv", "path,speaker,gender\na/one.wav,Jos\xe9,F\nb/three.flac,s2,M\n");
    CHECK_MSG(veil_corpus_load(P("man/latin1.csv"), &c) == 0, "%s", veil_last_error());
    if (c) {
        char *js = veil_corpus_summary_json(c);
        CHECK(js && strstr(js, "Jos\xc3\xa9") && !strstr(js, "Jos\xe9\""));
        cJSON *back = js ? cJSON_Parse(js) : NULL;
        CHECK(back != NULL);
        cJSON_Delete(back);
        free(js);
        veil_corpus_free(c);
        c = NULL;
    }
}

static void test_malformed_trees(void)
{
    veil_corpus *c = NULL;
    /* a speaker folder that does not start with F or M */
    write_audio("nogender/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("nogender/TRAIN/DR1/X123/SA1.WAV", 0.5, 16000, NIST);
    CHECK_FAILS_WITH(veil_corpus_load(P("nogender"), &c), "speaker without gender");
    CHECK_FAILS_WITH(veil_corpus_load(P("nogender"), &c), "TRAIN/DR1/X123");
    /* nothing recognisable */
    write_text("unknown/notes.txt", "hello\n");
    write_audio("unknown/a.wav", 0.5, 16000, RIFF);
    CHECK_FAILS_WITH(veil_corpus_load(P("unknown"), &c), "unknown layout");
    CHECK_FAILS_WITH(veil_corpus_load(P("unknown/a.wav"), &c), "unknown layout");
    CHECK_FAILS_WITH(veil_corpus_load(P("does-not-exist"), &c), "does-not-exist: no such file");
    /* a speaker folder without audio */
    write_audio("empty/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("empty/TRAIN/DR1/MDAB0/SA1.WAV", 0.5, 16000, NIST);
    write_text("empty/TRAIN/DR2/MEMP0/SA1.PHN", "0 100 h#\n");
    CHECK_FAILS_WITH(veil_corpus_load(P("empty"), &c), "empty speaker");
    CHECK_FAILS_WITH(veil_corpus_load(P("empty"), &c), "DR2/MEMP0");
    /* garbage bytes in a .WAV */
    write_audio("corrupt/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("corrupt/TRAIN/DR1/MDAB0/SA1.WAV", 0.5, 16000, NIST);
    write_text("corrupt/TRAIN/DR1/MDAB0/SA2.WAV", "this is not audio at all, just some bytes......");
    CHECK_FAILS_WITH(veil_corpus_load(P("corrupt"), &c), "cannot read audio");
    CHECK_FAILS_WITH(veil_corpus_load(P("corrupt"), &c), "MDAB0/SA2.WAV");
    /* a FIFO where a WAV is expected: refused at once (it used to block forever) */
    write_audio("fifo/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("fifo/TRAIN/DR1/MDAB0/SA1.WAV", 0.5, 16000, NIST);
    CHECK(mkfifo(P("fifo/TRAIN/DR1/MDAB0/X1.WAV"), 0644) == 0);
    CHECK_FAILS_WITH(veil_corpus_load(P("fifo"), &c), "X1.WAV: a FIFO, not a regular file");
    /* one gender only */
    write_audio("onlyf/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("onlyf/TRAIN/DR2/FCJF0/SA1.WAV", 0.5, 16000, NIST);
    CHECK_FAILS_WITH(veil_corpus_load(P("onlyf"), &c), "no male speakers");
    CHECK_FAILS_WITH(veil_corpus_load(P("onlyf"), &c), "onlyf");
    /* the layout, but no speakers */
    if (veil_mkdirs(P("nospk/TEST/DR1")) != 0) exit(2);
    CHECK_FAILS_WITH(veil_corpus_load(P("nospk"), &c), "no speakers found");
    /* one speaker in two dialect regions */
    write_audio("dup/TRAIN/DR1/FAKS0/SA1.WAV", 0.5, 16000, NIST);
    write_audio("dup/TRAIN/DR2/FAKS0/SA2.WAV", 0.5, 16000, NIST);
    write_audio("dup/TRAIN/DR2/MDAB0/SA1.WAV", 0.5, 16000, NIST);
    CHECK_FAILS_WITH(veil_corpus_load(P("dup"), &c), "speaker 'FAKS0' has dialect");
    /* a bad SPEAKERS.TXT line */
    write_text("badlibri/SPEAKERS.TXT", "19 | X | train | 1 | Name\n");
    write_audio("badlibri/19/1/19-1-1.flac", 0.5, 16000, FLAC);
    CHECK_FAILS_WITH(veil_corpus_load(P("badlibri"), &c), "SPEAKERS.TXT:1: unknown gender 'X'");
    CHECK(c == NULL);
}

int main(void)
{
    snprintf(base, sizeof base, "%s", test_tmpdir("corpus"));
    test_timit();
    test_librispeech();
    test_vctk();
    test_manifest();
    test_malformed_trees();
    return test_finish("test_corpus");
}
