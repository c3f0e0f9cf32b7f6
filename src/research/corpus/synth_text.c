/* Sentence generator for the synthetic corpus. A sentence is one or two clauses
 * (subject, verb, optional object, prepositional phrases) with adjectives and a final
 * adverb used to land on an exact word count, so each utterance can be sized to the
 * speaking time the speaker still needs. */
#include "synth_text.h"

#include <ctype.h>
#include <string.h>

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const shared[SYNTH_SHARED_SENTENCES] = {
    "The brave child jumped over seven puddles on the way to school.",
    "Please ask my brother to bring the heavy red box upstairs.",
};

static const char *const names[] = {
    "Maria", "Thomas", "Helen", "Oscar", "Nina", "Walter", "Rosa", "Daniel",
    "Clara", "Victor", "Laura", "Peter", "Grace", "Felix", "Irene", "Simon",
    "Alice", "George", "Diana", "Martin", "Edgar", "Julia", "Hector", "Ruth",
};
static const char *const agents[] = {
    "teacher", "farmer", "painter", "doctor", "driver", "sailor", "baker", "student",
    "neighbor", "child", "dog", "cat", "horse", "goose", "fisherman", "nurse",
    "carpenter", "soldier", "singer", "pilot", "tailor", "gardener", "mechanic",
    "grandmother", "uncle", "stranger", "waiter", "judge", "clerk", "shepherd",
};
static const char *const things[] = {
    "basket", "letter", "window", "table", "lamp", "coat", "bottle", "ladder",
    "wagon", "boat", "engine", "violin", "candle", "blanket", "mirror", "kettle",
    "bucket", "hammer", "package", "umbrella", "saddle", "jacket", "bicycle",
    "notebook", "suitcase", "pillow", "drum", "shovel", "carpet", "clock",
};
static const char *const places[] = {
    "garden", "river", "bridge", "station", "market", "kitchen", "village", "forest",
    "mountain", "harbor", "library", "office", "museum", "orchard", "meadow", "hallway",
    "bakery", "church", "tunnel", "fence", "lake", "barn", "castle", "playground",
    "theater", "factory", "hospital", "beach", "valley", "stairway",
};
static const char *const adjectives[] = {
    "old", "young", "tall", "small", "quiet", "busy", "heavy", "bright",
    "dark", "warm", "cold", "narrow", "wide", "green", "yellow", "wooden",
    "silver", "ancient", "careful", "gentle", "noisy", "empty", "crowded", "muddy",
    "shiny", "tired", "clever", "purple", "broken", "famous", "lonely", "sleepy",
};
static const char *const transitive[] = {
    "carried", "painted", "repaired", "found", "opened", "cleaned", "moved", "borrowed",
    "noticed", "dropped", "lifted", "pushed", "built", "sold", "bought", "washed",
    "wrapped", "hid", "polished", "fixed", "packed", "measured", "delivered", "returned",
    "described", "sketched", "tossed", "folded", "carved", "weighed",
};
static const char *const intransitive[] = {
    "waited", "laughed", "slept", "arrived", "worked", "rested", "listened", "sang",
    "danced", "wandered", "hurried", "stayed", "whistled", "shivered", "paused", "smiled",
    "argued", "stumbled", "returned", "vanished",
};
static const char *const prepositions[] = {
    "in", "near", "behind", "beside", "across", "under", "over", "along",
    "inside", "outside", "through", "toward", "past", "around", "beyond", "below",
};
static const char *const adverbs[] = {
    "yesterday", "today", "tonight", "again", "early", "later", "quietly", "slowly",
    "carefully", "suddenly", "twice", "afterwards", "anyway", "together",
};
static const char *const connectors[] = {
    "and", "but", "while", "because", "before", "after", "until", "so", "although", "when",
};
/* "a" is written "an" before a vowel when the sentence is rendered. */
static const char *const determiners[] = {
    "the", "the", "the", "a", "a", "this", "that", "my", "our", "their", "every", "his", "her",
};

#define MAX_PP 3

typedef struct {
    const char *det; /* NULL for a proper name */
    const char *adj; /* NULL when none */
    const char *noun;
} noun_phrase;

typedef struct {
    const char *connector; /* NULL for the first clause */
    noun_phrase subject;
    const char *verb;
    int has_object;
    noun_phrase object;
    int n_pp;
    const char *prep[MAX_PP];
    noun_phrase pp[MAX_PP];
} clause;

static const char *pick(veil_rng *r, const char *const *list, int n)
{
    return list[veil_rng_below(r, (uint64_t)n)];
}
#define PICK(r, list) pick(r, list, N_OF(list))

static noun_phrase common_np(veil_rng *r, const char *const *nouns, int n)
{
    noun_phrase np = {PICK(r, determiners), NULL, pick(r, nouns, n)};
    return np;
}

/* Appends one word; returns 0, or -1 when buf is full. */
static int put_word(char *buf, size_t cap, size_t *len, const char *w)
{
    size_t n = strlen(w);
    if (*len + n + 3 > cap) return -1;
    if (*len) buf[(*len)++] = ' ';
    memcpy(buf + *len, w, n);
    *len += n;
    buf[*len] = 0;
    return 0;
}

static int put_np(char *buf, size_t cap, size_t *len, const noun_phrase *np)
{
    if (np->det) {
        const char *next = np->adj ? np->adj : np->noun;
        const char *det = np->det;
        if (!strcmp(det, "a") && strchr("aeiou", next[0])) det = "an";
        if (put_word(buf, cap, len, det) || (np->adj && put_word(buf, cap, len, np->adj))) return -1;
    }
    return put_word(buf, cap, len, np->noun);
}

int synth_sentence(veil_rng *r, int words, char *buf, size_t cap)
{
    if (words < SYNTH_MIN_WORDS) words = SYNTH_MIN_WORDS;
    if (words > SYNTH_MAX_WORDS) words = SYNTH_MAX_WORDS;
    clause cl[2];
    memset(cl, 0, sizeof cl);
    int n_clauses = 1, left = words;

    /* first clause: subject and verb, an object when there is room */
    if (left >= 6 && veil_rng_uniform(r) < 0.3) {
        cl[0].subject = (noun_phrase){NULL, NULL, PICK(r, names)};
        left -= 1;
    } else {
        cl[0].subject = common_np(r, agents, N_OF(agents));
        left -= 2;
    }
    left -= 1;
    if (left >= 4 && veil_rng_uniform(r) < 0.6) {
        cl[0].verb = PICK(r, transitive);
        cl[0].has_object = 1;
        cl[0].object = common_np(r, things, N_OF(things));
        left -= 2;
    } else {
        cl[0].verb = PICK(r, intransitive);
    }
    /* grow by three- and four-word phrases while they fit */
    while (left >= 3) {
        int room = -1; /* a clause that can take another phrase, the last one first */
        for (int c = n_clauses - 1; c >= 0 && room < 0; c--)
            if (cl[c].n_pp < MAX_PP) room = c;
        if (n_clauses == 1 && left >= 4 && (room < 0 || (left >= 7 && veil_rng_uniform(r) < 0.3))) {
            clause *c = &cl[n_clauses++];
            c->connector = PICK(r, connectors);
            c->subject = common_np(r, agents, N_OF(agents));
            c->verb = PICK(r, intransitive);
            left -= 4;
        } else if (room >= 0) {
            clause *c = &cl[room];
            c->prep[c->n_pp] = PICK(r, prepositions);
            c->pp[c->n_pp++] = common_np(r, places, N_OF(places));
            left -= 3;
        } else {
            break; /* cannot happen for up to SYNTH_MAX_WORDS words */
        }
    }
    /* land on the exact count: a final adverb, then adjectives on bare noun phrases */
    const char *adverb = NULL;
    if (left > 0) {
        adverb = PICK(r, adverbs);
        left--;
    }
    noun_phrase *slots[2 * (2 + MAX_PP)];
    int n_slots = 0;
    for (int c = 0; c < n_clauses; c++) {
        slots[n_slots++] = &cl[c].subject;
        if (cl[c].has_object) slots[n_slots++] = &cl[c].object;
        for (int p = 0; p < cl[c].n_pp; p++) slots[n_slots++] = &cl[c].pp[p];
    }
    for (int i = n_slots; i > 1; i--) { /* shuffle so adjectives land anywhere */
        int j = (int)veil_rng_below(r, (uint64_t)i);
        noun_phrase *t = slots[i - 1];
        slots[i - 1] = slots[j];
        slots[j] = t;
    }
    for (int i = 0; i < n_slots && left > 0; i++)
        if (slots[i]->det && !slots[i]->adj) {
            slots[i]->adj = PICK(r, adjectives);
            left--;
        }

    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < n_clauses; c++) {
        const clause *k = &cl[c];
        if (k->connector && put_word(buf, cap, &len, k->connector)) return -1;
        if (put_np(buf, cap, &len, &k->subject) || put_word(buf, cap, &len, k->verb)) return -1;
        if (k->has_object && put_np(buf, cap, &len, &k->object)) return -1;
        for (int p = 0; p < k->n_pp; p++)
            if (put_word(buf, cap, &len, k->prep[p]) || put_np(buf, cap, &len, &k->pp[p])) return -1;
    }
    if (adverb && put_word(buf, cap, &len, adverb)) return -1;
    buf[0] = (char)toupper((unsigned char)buf[0]);
    buf[len++] = '.';
    buf[len] = 0;
    return synth_count_words(buf);
}

int synth_count_words(const char *s)
{
    int n = 0, in_word = 0;
    for (; *s; s++) {
        if (*s == ' ') in_word = 0;
        else if (!in_word) {
            in_word = 1;
            n++;
        }
    }
    return n;
}

const char *synth_shared_sentence(int i) { return shared[i]; }
int synth_shared_words(int i) { return synth_count_words(shared[i]); }
