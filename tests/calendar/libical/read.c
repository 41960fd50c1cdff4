/* Reads an iCalendar file on stdin with libical (Evolution, and others, read with it) and prints
 * one line per VEVENT: UID, start and end as Unix times, and the TZID libical resolved each with.
 * Times with a TZID are resolved with the file's own VTIMEZONE (icalcomponent_get_timezone). */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>

static char *read_all(FILE *in) {
    size_t size = 0, capacity = 1 << 16;
    char *text = malloc(capacity);
    size_t got;
    while (text && (got = fread(text + size, 1, capacity - size - 1, in)) > 0) {
        size += got;
        if (capacity - size < 2) text = realloc(text, capacity *= 2);
    }
    if (text) text[size] = '\0';
    return text;
}

static const char *zone_of(struct icaltimetype time) {
    if (icaltime_is_utc(time)) return "UTC";
    return time.zone ? icaltimezone_get_tzid((icaltimezone *)time.zone) : "floating";
}

static void print_event(icalcomponent *event) {
    struct icaltimetype start = icalcomponent_get_dtstart(event);
    struct icaltimetype end = icalcomponent_get_dtend(event);
    printf("%s\t%lld\t%lld\t%s\t%s\n", icalcomponent_get_uid(event),
           (long long)icaltime_as_timet_with_zone(start, start.zone),
           (long long)icaltime_as_timet_with_zone(end, end.zone), zone_of(start), zone_of(end));
}

int main(void) {
    char *text = read_all(stdin);
    icalcomponent *calendar = text ? icalparser_parse_string(text) : NULL;
    if (calendar == NULL) {
        fprintf(stderr, "libical could not parse the calendar: %s\n", icalerror_perror());
        return 1;
    }
    for (icalcomponent *event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);
         event != NULL; event = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT)) {
        print_event(event);
    }
    icalcomponent_free(calendar);
    free(text);
    return 0;
}
